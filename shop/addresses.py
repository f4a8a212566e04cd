"""A buyer's saved shipping addresses: add, list, delete, choose the default."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update

from core.errors import InvalidInput, NotFound
from core.models import Address
from core.uow import DbSession, unit_of_work
from shop.domain.addresses import AddressError, ShippingAddress, validate_address

MAX_ADDRESSES = 20


def list_addresses(session: DbSession, user_id: int) -> Sequence[Address]:
    """The user's addresses, the default first, then the newest."""
    return session.scalars(
        select(Address)
        .where(Address.user_id == user_id)
        .order_by(Address.is_default.desc(), Address.id.desc())
    ).all()


def _own_address(session: DbSession, user_id: int, address_id: int) -> Address:
    address = session.get(Address, address_id)
    if address is None or address.user_id != user_id:
        # Someone else's address: do not reveal that it exists.
        raise NotFound("address not found")
    return address


def _make_default(session: DbSession, user_id: int, address: Address) -> None:
    session.execute(
        update(Address)
        .where(Address.user_id == user_id, Address.id != address.id, Address.is_default.is_(True))
        .values(is_default=False)
        .execution_options(synchronize_session=False)
    )
    address.is_default = True


def add_address(
    session: DbSession,
    user_id: int,
    *,
    recipient: str,
    phone: str,
    region: str,
    detail: str,
    is_default: bool = False,
) -> Address:
    """Save a validated address; the first one, or one asked to be, becomes the default."""
    try:
        clean = validate_address(recipient, phone, region, detail)
    except AddressError as exc:
        raise InvalidInput(str(exc)) from exc
    with unit_of_work(session):
        count = session.scalar(
            select(func.count()).select_from(Address).where(Address.user_id == user_id)
        ) or 0
        if count >= MAX_ADDRESSES:
            raise InvalidInput(f"at most {MAX_ADDRESSES} saved addresses; delete one first")
        address = Address(
            user_id=user_id,
            recipient=clean.recipient,
            phone=clean.phone,
            region=clean.region,
            detail=clean.detail,
            is_default=False,
        )
        session.add(address)
        session.flush()
        if is_default or count == 0:
            _make_default(session, user_id, address)
    return address


def delete_address(session: DbSession, user_id: int, address_id: int) -> None:
    """Delete one of the user's addresses; if it was the default, the newest left takes over."""
    with unit_of_work(session):
        address = _own_address(session, user_id, address_id)
        was_default = address.is_default
        session.delete(address)
        session.flush()
        if was_default:
            newest = session.scalars(
                select(Address).where(Address.user_id == user_id).order_by(Address.id.desc())
            ).first()
            if newest is not None:
                newest.is_default = True


def set_default_address(session: DbSession, user_id: int, address_id: int) -> Address:
    """Make one of the user's addresses the default."""
    with unit_of_work(session):
        address = _own_address(session, user_id, address_id)
        _make_default(session, user_id, address)
    return address


def remember_address(session: DbSession, user_id: int, shipping: ShippingAddress) -> Address:
    """Keep an address used for a placed order, for next time.

    The same address saved already is not saved twice (the saved one is returned);
    the limit of saved addresses still applies (InvalidInput).
    """
    with unit_of_work(session):
        same = session.scalars(
            select(Address).where(
                Address.user_id == user_id,
                Address.recipient == shipping.recipient,
                Address.phone == shipping.phone,
                Address.region == shipping.region,
                Address.detail == shipping.detail,
            )
        ).first()
        if same is not None:
            return same
        return add_address(session, user_id, recipient=shipping.recipient,
                           phone=shipping.phone, region=shipping.region, detail=shipping.detail)
