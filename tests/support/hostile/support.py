"""The hostile-input corpus's machinery: a seeded world, cases, and the one check every case gets.

A *case* is a named request builder plus what a refusal looks like at its entry
point. ``run_case`` sends it on the module's seeded SQLite app and asserts, for
every case: no 5xx, the expected refusal (a 4xx, or WeChat Pay's FAIL ack), no
stack trace or exception name in the body, and no change at all to the
database (row count and a hash of the rows of every table in ``db.metadata``).
A case that did change the database is undone by copying the pristine SQLite
file back, so one failure never poisons the cases after it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from core.actors import Actor
from core.models import (
    Address,
    Distributor,
    DistributorTier,
    Product,
    Refund,
    Role,
    Sku,
    Supplier,
    User,
    UserRole,
)
from shop import cart, checkout, payments, refunds
from shop.auth import issue_token
from tests.support.apps import app_settings
from tests.support.factories import ADDRESS
from tests.support.payments import (
    install_fake_gateway,
    new_transaction_id,
    signed_pay_notify,
)
from tests.support.settings import gateway_of, settings_of
from tests.support.wechat_messages import AES_KEY, APP_ID, TOKEN
from webapp import create_app
from webapp.extensions import db
from webapp.redis_conn import get_redis
from webapp.seed import seed_demo

# What a refusal must never show: a traceback, a source location or an exception's class name.
TRACE_MARKERS = re.compile(
    r"Traceback|File \"|\b[A-Z][A-Za-z]*(?:Error|Exception)\b|sqlalchemy|psycopg|werkzeug\.",
)


@dataclass
class World:
    """The module's seeded app and the people, tokens and rows the cases point at."""

    app: Flask
    db_path: Path
    pristine: Path
    tokens: dict[str, str]
    openids: dict[str, str]
    ids: dict[str, int]
    numbers: dict[str, str]
    replay_notify: bytes = b""
    refund_no: str = ""
    invite_code: str = "HANMM888"

    def copy_to(self, app: Flask, tmp_dir: Path) -> World:
        """This world on another app whose database is a copy of the pristine file."""
        db_path = tmp_dir / "hostile.sqlite3"
        _copy_database(self.pristine, db_path)
        return dataclasses.replace(self, app=app, db_path=db_path)

    def restore(self) -> None:
        """Put the seeded database back (after a case that changed it)."""
        db.session.remove()
        db.engine.dispose()
        _copy_database(self.pristine, self.db_path)


def _copy_database(source: Path, target: Path) -> None:
    """Replace the SQLite database ``target`` (and any WAL left beside it) by ``source``."""
    for suffix in ("-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    shutil.copyfile(source, target)


def world_app(tmp_dir: Path, redis_url: str) -> Flask:
    """The corpus's app: SQLite file in ``tmp_dir``, plaintext and safe mode accepted."""
    app = create_app(app_settings(
        tmp_dir, "sqlite:///" + str(tmp_dir / "hostile.sqlite3"), redis_url,
        WECHAT_TOKEN=TOKEN, WECHAT_APP_ID=APP_ID, WECHAT_ENCODING_AES_KEY=AES_KEY,
        # A deadline is needed only if a hostile message got through; keep such a failure quick.
        WECHAT_REPLY_DEADLINE_SECONDS=2,
        # Answer a crash with the 500 a client would get (its body is checked for traces),
        # instead of raising it into the test as TESTING does by default.
        PROPAGATE_EXCEPTIONS=False,
    ))
    install_fake_gateway(app)  # nothing the corpus does may reach WeChat Pay
    return app


def build_world(app: Flask, tmp_dir: Path) -> World:
    """Seed the demo shop plus orders, payments, a refund and tokens (inside an app context)."""
    db_path = tmp_dir / "hostile.sqlite3"
    db.create_all()
    get_redis().flushdb()
    report = seed_demo(db.session)
    db.session.commit()

    def user(openid: str) -> User:
        found = db.session.scalar(select(User).where(User.openid == openid))
        assert found is not None, openid
        return found

    buyer, distributor, other = (
        user("o-demo-xiaoming"), user("o-demo-hanmeimei"), user("o-demo-lilei"))
    operator_id = next(t.user_id for t in report.tokens if t.who == "operator")
    supplier_staff_id = next(t.user_id for t in report.tokens if t.who.startswith("supplier"))
    staff = db.session.get(User, supplier_staff_id)
    assert staff is not None and staff.supplier_id is not None
    supplier_id = staff.supplier_id
    product = db.session.scalar(
        select(Product).where(Product.supplier_id == supplier_id).order_by(Product.id))
    assert product is not None
    sku = db.session.scalar(select(Sku).where(Sku.product_id == product.id).order_by(Sku.id))
    assert sku is not None
    foreign_sku = db.session.scalar(
        select(Sku).join(Product).where(Product.supplier_id != supplier_id).order_by(Sku.id))
    assert foreign_sku is not None

    # Orders: one awaiting payment, one paid (its notify kept for replays), one paid and refunding.
    pending = checkout.checkout(db.session, settings_of(), buyer.id, [(sku.id, 1)], ADDRESS)
    paid = checkout.checkout(db.session, settings_of(), buyer.id, [(sku.id, 1)], ADDRESS)
    refunding = checkout.checkout(db.session, settings_of(), buyer.id,
                                  [(sku.id, 1), (foreign_sku.id, 1)],
                                  ADDRESS)
    db.session.commit()
    replay = signed_pay_notify(app, paid.number, paid.total_fen, new_transaction_id())
    assert payments.apply_pay_notify(db.session, gateway_of(), replay).applied
    refunding_notify = signed_pay_notify(app, refunding.number, refunding.total_fen)
    assert payments.apply_pay_notify(db.session, gateway_of(), refunding_notify).applied
    operator = db.session.get(User, operator_id)
    assert operator is not None
    refund = refunds.request_refund(db.session, gateway_of(), Actor.of(operator), refunding.id,
                                    None, "hostile")
    db.session.commit()
    cart.add_to_cart(db.session, settings_of(), buyer.id, sku.id, 1)
    db.session.commit()

    address = Address(user_id=buyer.id, recipient="王小明", phone="13800138001",
                      region="上海市 浦东新区", detail="世纪大道 100 号", is_default=True)
    db.session.add(address)
    db.session.commit()
    address_id = address.id
    tier = db.session.scalar(select(DistributorTier).order_by(DistributorTier.id))
    other_supplier = db.session.scalar(
        select(Supplier.id).where(Supplier.id != supplier_id).order_by(Supplier.id))
    tokens = {
        "operator": issue_token(db.session, operator_id, "hostile"),
        "supplier": issue_token(db.session, supplier_staff_id, "hostile"),
        "consumer": issue_token(db.session, buyer.id, "hostile"),
        "distributor": issue_token(db.session, distributor.id, "hostile"),
        "other": issue_token(db.session, other.id, "hostile"),
    }
    assert db.session.get(Distributor, distributor.id) is not None
    assert not any(r.role == str(Role.OPERATOR) for r in db.session.scalars(
        select(UserRole).where(UserRole.user_id == buyer.id)))
    db.session.commit()
    ids = {
        "buyer": buyer.id, "distributor": distributor.id, "other": other.id,
        "operator": operator_id, "supplier_staff": supplier_staff_id,
        "supplier": supplier_id, "other_supplier": int(other_supplier or supplier_id),
        "product": product.id, "sku": sku.id, "category": product.category_id,
        "pending_order": pending.id, "paid_order": paid.id, "refunding_order": refunding.id,
        "address": address_id, "tier": tier.id if tier else 1, "refund": refund.id,
    }
    refund_row = db.session.get(Refund, refund.id)
    assert refund_row is not None
    numbers = {
        "pending": pending.number, "paid": paid.number, "refunding": refunding.number,
        "pending_total": str(pending.total_fen), "paid_total": str(paid.total_fen),
        "refunding_total": str(refunding.total_fen), "refund_amount": str(refund_row.amount_fen),
    }
    world = World(
        app=app, db_path=db_path, pristine=tmp_dir / "pristine.sqlite3", tokens=tokens,
        openids={"buyer": buyer.openid or "", "other": other.openid or "",
                 "distributor": distributor.openid or ""},
        ids=ids, numbers=numbers, replay_notify=replay, refund_no=refund_row.out_refund_no,
    )
    db.session.remove()
    db.engine.dispose()
    _copy_database(db_path, world.pristine)
    return world


def snapshot() -> dict[str, tuple[int, str]]:
    """Row count and a hash of the sorted rows of every table, read from the database.

    Reading every table costs ~10 ms; the corpus has well over a thousand cases, so
    snapshots are remembered by the bytes of the SQLite file and its WAL: any committed
    write changes those bytes, so equal bytes mean equal rows, and a new fingerprint
    always gets a full read.
    """
    key = _file_fingerprint()
    if key is not None and key in _SNAPSHOTS:
        return _SNAPSHOTS[key]
    rows = _read_tables()
    if key is not None:
        _SNAPSHOTS.clear()  # only the latest state is ever asked for again
        _SNAPSHOTS[key] = rows
    return rows


_SNAPSHOTS: dict[str, dict[str, tuple[int, str]]] = {}


def _file_fingerprint() -> str | None:
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    digest = hashlib.sha256()
    for suffix in ("", "-wal"):
        path = Path(url.database + suffix)
        digest.update(path.read_bytes() if path.exists() else b"<none>")
    return digest.hexdigest()


def _read_tables() -> dict[str, tuple[int, str]]:
    db.session.expire_all()
    result = {}
    for table in db.metadata.sorted_tables:
        rows = sorted(repr(tuple(row)) for row in db.session.execute(select(table)))
        result[table.name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    db.session.commit()
    return result


@dataclass
class Req:
    """One HTTP request of a case."""

    method: str
    path: str
    query: dict[str, str] | str | None = None
    data: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    openid: str | None = None  # H5: sign this WeChat user into the session first


# How each entry point refuses.
REFUSED = "4xx"  # any 400-499
FAIL_ACK = "fail_ack"  # WeChat Pay v2: XML return_code FAIL (status 200 or 4xx)
REPLAY_OK = "replay_ok"  # WeChat Pay retry of an applied notify: SUCCESS ack, nothing changes
SIGN_IN = "sign_in"  # H5 page without a (valid) session: 302 to WeChat's authorize page


@dataclass(frozen=True)
class Case:
    """A named hostile request at one entry point and the refusal it must get."""

    entry: str
    name: str
    build: Callable[[World], Req]
    expect: str = REFUSED
    prime: Callable[[World, Any], None] | None = None  # run before the "before" snapshot

    @property
    def id(self) -> str:
        """The case's pytest id (also its key in ``known_failures``)."""
        return f"{self.entry}:{self.name}"


def params(cases: list[Case]) -> list[Any]:
    """pytest parameters for ``cases``, each carrying its known-failure mark if it has one."""
    from tests.support.hostile.known_failures import marks_for

    return [pytest.param(case, id=case.id, marks=marks_for(case.id)) for case in cases]


@contextmanager
def _kept(world: World) -> Iterator[None]:
    try:
        yield
    finally:
        db.session.rollback()


def send(world: World, req: Req) -> Any:
    """Send ``req`` with a fresh test client (a signed-in H5 session if ``req.openid``)."""
    client = world.app.test_client()
    if req.openid is not None:
        with client.session_transaction() as session:
            session["wx_openid"] = req.openid
    kwargs: dict[str, Any] = {"method": req.method, "headers": req.headers}
    if req.query is not None:
        kwargs["query_string"] = req.query
    if req.data is not None:
        kwargs["data"] = req.data
    if req.content_type is not None:
        kwargs["content_type"] = req.content_type
    return client.open(req.path, **kwargs)


def check_refusal(case: Case, response: Any) -> None:
    """The response is the entry point's refusal and shows no stack trace."""
    status = response.status_code
    body = response.get_data()
    text = body.decode("utf-8", "replace")
    assert status < 500, f"{case.id}: {status} {text[:500]}"
    assert not TRACE_MARKERS.search(text), f"{case.id}: trace in body: {text[:500]}"
    if case.expect == REFUSED:
        assert 400 <= status < 500, f"{case.id}: {status} {text[:300]}"
    elif case.expect == FAIL_ACK:
        assert status == 200 or 400 <= status < 500, f"{case.id}: {status}"
        assert b"<return_code><![CDATA[FAIL]]></return_code>" in body, f"{case.id}: {text[:300]}"
    elif case.expect == REPLAY_OK:
        assert status == 200, f"{case.id}: {status}"
        assert b"<return_code><![CDATA[SUCCESS]]></return_code>" in body, text[:300]
    elif case.expect == SIGN_IN:
        assert status == 302, f"{case.id}: {status} {text[:300]}"
        location = response.headers.get("Location", "")
        assert "/connect/oauth2/authorize" in location or "/sandbox/" in location, location
    else:  # pragma: no cover - a typo in a case table
        raise AssertionError(f"unknown expectation {case.expect!r}")


def run_case(world: World, case: Case) -> None:
    """Send the case and assert the refusal, no trace, and an unchanged database."""
    req = case.build(world)
    if case.prime is not None:
        case.prime(world, world.app.test_client())
    before = snapshot()
    changed: list[str] = []
    try:
        with _kept(world):
            response = send(world, req)
        after = snapshot()
        changed = [name for name in before if before[name] != after.get(name)]
    finally:
        if changed:
            world.restore()
    check_refusal(case, response)
    assert not changed, f"{case.id}: database changed in {changed}"


# Hostile values shared by the entry points.
INJECTIONS: dict[str, str] = {
    "sql": "1' OR '1'='1'; DROP TABLE users; --",
    "sql-union": "0 UNION SELECT token_sha256 FROM api_tokens",
    "html": "<script>alert(document.cookie)</script><img src=x onerror=alert(1)>",
    "template": "{{ config.items() }}{% debug %}${7*7}#{7*7}",
    "cdata": "]]><xml><evil>1</evil></xml><![CDATA[",
    "path": "../../../../etc/passwd",
    "crlf": "a\r\nSet-Cookie: pwned=1",
    "format": "%s%s%n%x{0}{__class__}",
}
LONE_SURROGATE = "\ud800"
HUGE_NUMBERS: dict[str, int] = {"2**63": 2**63, "10**30": 10**30, "-2**63-1": -(2**63) - 1}
