"""Carries out the dialogue engine's intents with the shop's services and reports events.

Every intent gets exactly one event back. Refusals by a service become a
``Failed`` event whose code the engine knows how to word; anything unexpected
is logged, rolled back and reported as ``Failed(code="internal")``, so a chat
user never sees a stack trace and the webhook never answers with an error.

The referral intents call :mod:`referral`: binding by QR scene or invite code,
applying, and the distributor's tools. QR codes, posters and share links
(``referral.qrcodes``, ``referral.posters``, ``referral.links``) are imported
where they are used, so the chat keeps working while those modules are deployed.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select

from adapters.wechat.links import pay_page_url
from bots.dialogue import events as ev
from bots.dialogue import intents as it
from core.actors import Actor
from core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, OutOfStock
from core.models import Category, Distributor, Order, OrderStatus, Product, Sku, User
from core.uow import DbSession
from referral.binding import BindingRefused, bind_by_invite_code, bind_by_scene, record_refusal
from referral.distributors import apply, completed_spend, distributor_of, find_by_invite_code
from referral.domain.codes import distributor_in_scene
from referral.domain.rules import BindingSource, DistributorStatus, Eligibility
from referral.settings import current_rules
from referral.tree import team_stats
from shop import addresses as address_service
from shop import cart as cart_service
from shop import catalogue
from shop.checkout import checkout, resolve_address
from shop.domain.addresses import (
    AddressError,
    ShippingAddress,
    validate_phone,
    validate_recipient,
    validate_street,
)
from shop.domain.order_rules import REFUNDABLE
from shop.orders import cancel_order, find_order_by_number
from shop.refunds import request_refund
from storefront.browse_cache import browse_cache
from storefront.state_store import StateStore

log = logging.getLogger(__name__)

CHINA = timezone(timedelta(hours=8))  # what buyers read on their phones
# The rule for each address field the chat asks for, one typed line at a time.
_FIELD_RULES: dict[str, Callable[[str], str]] = {
    "recipient": validate_recipient,
    "phone": validate_phone,
    "detail": validate_street,
}


def absolute_url(base_url: str, path: str) -> str:
    """A product picture's public URL (stored paths are relative to PUBLIC_BASE_URL)."""
    if not path or path.startswith(("http://", "https://")):
        return path
    return base_url + (path if path.startswith("/") else "/" + path)


def local_time(moment: datetime | None) -> str:
    """A timestamp as "MM-DD HH:MM" in China time."""
    if moment is None:
        return ""
    return moment.astimezone(CHINA).strftime("%m-%d %H:%M")


def china_month(moment: datetime) -> tuple[int, int, datetime, datetime]:
    """The China-time calendar month around ``moment``: year, month, its start and end in UTC."""
    local = moment.astimezone(CHINA)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    end = start.replace(year=year, month=month)
    return local.year, local.month, start.astimezone(UTC), end.astimezone(UTC)


class Executor:
    """Runs intents for one chat user."""

    def __init__(
        self, session: DbSession, actor: Actor, openid: str, store: StateStore,
        config: Mapping[str, Any],
    ) -> None:
        """Act for ``actor`` (whose WeChat id is ``openid``) with the app's ``config``."""
        self.session = session
        self.user_id = actor.user_id
        self.actor = actor
        self.openid = openid
        self.store = store
        self.config = config
        self.base_url = str(config.get("PUBLIC_BASE_URL", "")).rstrip("/")
        self.payment_minutes = int(config.get("PAYMENT_TIMEOUT_MINUTES", 30))

    def run(self, intent: it.Intent) -> ev.Event:
        """Carry out one intent; never raises."""
        action = type(intent).__name__
        handler: Callable[[Any], ev.Event] = getattr(self, "_" + action)
        try:
            return handler(intent)
        except OutOfStock as exc:
            self.session.rollback()
            return ev.Failed(action, "out_of_stock", exc.message, self._sku_title(exc))
        except NotFound as exc:
            self.session.rollback()
            return ev.Failed(action, "not_found", exc.message)
        except DomainError as exc:
            self.session.rollback()
            return ev.Failed(action, exc.error_code, exc.message)
        except Exception:  # noqa: BLE001 - the chat must answer; the log keeps the details
            log.exception("chat intent %s failed for user %s", action, self.user_id)
            self.session.rollback()
            return ev.Failed(action, "internal")

    def _sku_title(self, exc: OutOfStock) -> str:
        sku_id = exc.details.get("sku_id")
        title = self.session.scalar(
            select(Product.title).join(Sku, Sku.product_id == Product.id).where(Sku.id == sku_id)
        ) if sku_id else None
        return str(title or "")

    # -- referral -------------------------------------------------------------------------

    def _BindScene(self, intent: it.BindScene) -> ev.Event:  # noqa: N802
        # Whatever happens, the scan is answered with a welcome: a refused or failed
        # binding is the shop's business (audit, log), never an error for the user.
        try:
            return self._bind_scene(intent)
        except Exception:  # noqa: BLE001 - the log keeps the details
            log.exception("chat: binding user %s by scene %r failed", self.user_id, intent.scene)
            self.session.rollback()
            return ev.SceneBound("refused", returning=intent.returning)

    def _bind_scene(self, intent: it.BindScene) -> ev.SceneBound:
        try:
            result = bind_by_scene(self.session, self.user_id, intent.scene)
        except BindingRefused as refused:
            record_refusal(self.session, self.user_id, BindingSource.QR, intent.scene, refused)
            return ev.SceneBound("refused", returning=intent.returning)
        except (NotFound, InvalidInput):
            # A scene for a user who does not exist (any more), or not a distributor scene:
            # nothing to bind and no rule was asked, so nothing to audit either.
            self.session.rollback()
            return ev.SceneBound("refused", returning=intent.returning)
        scanned = distributor_in_scene(intent.scene)
        if result.changed:
            return ev.SceneBound("bound", result.upline_name, intent.returning)
        if result.upline_id == scanned:
            return ev.SceneBound("already", result.upline_name, intent.returning)
        return ev.SceneBound("kept", returning=intent.returning)

    def _BindInviteCode(self, intent: it.BindInviteCode) -> ev.Event:  # noqa: N802
        action = "BindInviteCode"
        owner = find_by_invite_code(self.session, intent.code)
        owner_id = owner.user_id if owner is not None else None
        try:
            result = bind_by_invite_code(
                self.session, self.user_id, intent.code, BindingSource.INVITE_CODE
            )
        except BindingRefused as refused:
            record_refusal(self.session, self.user_id, BindingSource.INVITE_CODE, intent.code,
                           refused)
            return ev.Failed(action, str(refused.code), refused.message)
        except InvalidInput as exc:
            self.session.rollback()
            return ev.Failed(action, "bad_code", exc.message)
        except NotFound as exc:
            self.session.rollback()
            return ev.Failed(action, "unknown_code", exc.message)
        if result.changed:
            return ev.InviteCodeBound("bound", result.upline_name)
        if result.upline_id == owner_id:
            return ev.InviteCodeBound("already", result.upline_name)
        current = self.session.get(User, result.upline_id) if result.upline_id else None
        return ev.InviteCodeBound("kept", current.nickname if current is not None else "")

    def _ApplyDistributor(self, intent: it.ApplyDistributor) -> ev.Event:  # noqa: N802
        action = "ApplyDistributor"
        found = distributor_of(self.session, self.user_id)
        before = str(found.status) if found is not None else ""
        if before == DistributorStatus.REVOKED:
            return ev.Failed(action, "revoked")
        try:
            record = apply(self.session, self.user_id)
        except Conflict:
            self.session.rollback()
            # Revoked meanwhile (an operator's decision racing the message): say so.
            again = distributor_of(self.session, self.user_id)
            if again is not None and again.status == DistributorStatus.REVOKED:
                return ev.Failed(action, "revoked")
            raise
        status = str(record.status)
        missing = threshold = 0
        if status == DistributorStatus.PENDING:
            rules = current_rules(self.session)
            if rules.eligibility is Eligibility.SPEND:
                threshold = rules.eligibility_spend_fen
                missing = max(0, threshold - completed_spend(self.session, self.user_id))
        return ev.DistributorApplied(status, before, missing, threshold)

    def _active_distributor(self, action: str) -> Distributor | ev.Failed:
        """The user's distributor record if active, else why not (as the engine words it)."""
        record = distributor_of(self.session, self.user_id)
        if record is None:
            return ev.Failed(action, "not_distributor")
        if record.status != DistributorStatus.ACTIVE:
            return ev.Failed(action, str(record.status))
        return record

    def _ShowInviteCode(self, intent: it.ShowInviteCode) -> ev.Event:  # noqa: N802
        from referral.links import share_url

        record = self._active_distributor("ShowInviteCode")
        if isinstance(record, ev.Failed):
            return record
        code = record.invite_code
        return ev.InviteCodeShown(code, share_url(self.base_url, code))

    def _ShowQrCode(self, intent: it.ShowQrCode) -> ev.Event:  # noqa: N802
        from referral.qrcodes import ensure_qr_code

        record = self._active_distributor("ShowQrCode")
        if isinstance(record, ev.Failed):
            return record
        code = record.invite_code
        qr = ensure_qr_code(self.session, self.user_id)
        return ev.QrCodeShown(qr.image_url, code)

    def _RequestPoster(self, intent: it.RequestPoster) -> ev.Event:  # noqa: N802
        from referral.posters import request_poster

        record = self._active_distributor("RequestPoster")
        if isinstance(record, ev.Failed):
            return record
        request_poster(self.user_id, self.openid)
        return ev.PosterRequested()

    def _ShowTeam(self, intent: it.ShowTeam) -> ev.Event:  # noqa: N802
        record = self._active_distributor("ShowTeam")
        if isinstance(record, ev.Failed):
            return record
        year, month, since, until = china_month(datetime.now(UTC))
        stats = team_stats(self.session, self.user_id, since=since, until=until)
        levels = current_rules(self.session).levels
        return ev.TeamShown(
            stats.direct_count, stats.team_size, year, month,
            tuple(
                ev.LevelSales(level, stats.orders_by_level.get(level, 0),
                              stats.sales_by_level.get(level, 0))
                for level in range(1, levels + 1)
            ),
        )

    def _ShowEarnings(self, intent: it.ShowEarnings) -> ev.Event:  # noqa: N802
        from commissions.earnings import EARNINGS_STATUSES, earnings_summary, statement

        record = distributor_of(self.session, self.user_id)
        if record is None or record.status not in EARNINGS_STATUSES:
            return ev.Failed("ShowEarnings", str(record.status) if record else "not_distributor")
        summary = earnings_summary(self.session, self.user_id)
        _total, lines = statement(self.session, self.user_id, 0, 5)
        return ev.EarningsShown(
            summary.pending_fen, summary.available_fen, summary.withdrawing_fen,
            summary.withdrawn_fen, summary.debt_fen,
            tuple(ev.EarningLine(x.order_number, x.level, x.net_fen,
                                 "reversed" if x.kind == "clawback" else x.status)
                  for x in lines),
        )

    def _withdrawal_refusal(self, action: str) -> ev.Failed | None:
        """Failed with the distributor's status unless they are active (who may withdraw)."""
        record = distributor_of(self.session, self.user_id)
        if record is None or record.status != DistributorStatus.ACTIVE:
            return ev.Failed(action, str(record.status) if record else "not_distributor")
        return None

    def _min_withdrawal_fen(self) -> int:
        return int(self.config.get("WITHDRAWAL_MIN_FEN", 100))

    def _ShowWithdrawal(self, intent: it.ShowWithdrawal) -> ev.Event:  # noqa: N802
        from commissions.earnings import earnings_summary

        refused = self._withdrawal_refusal("ShowWithdrawal")
        if refused is not None:
            return refused
        summary = earnings_summary(self.session, self.user_id)
        return ev.WithdrawalInfo(summary.available_fen, summary.withdrawing_fen,
                                 summary.debt_fen, self._min_withdrawal_fen())

    def _RequestWithdrawal(self, intent: it.RequestWithdrawal) -> ev.Event:  # noqa: N802
        from commissions import withdrawals
        from commissions.earnings import earnings_summary

        action = "RequestWithdrawal"
        refused = self._withdrawal_refusal(action)
        if refused is not None:
            return refused
        minimum = self._min_withdrawal_fen()
        try:
            made = withdrawals.request_withdrawal(
                self.session, self.actor, intent.amount_fen, channel=withdrawals.WECHAT,
                min_fen=minimum)
        except Conflict as exc:
            self.session.rollback()
            available = int(exc.details.get("available_fen", 0))
            if available < 0:
                return ev.Failed(action, "withdraw_debt", exc.message, str(-available))
            return ev.Failed(action, "withdraw_insufficient", exc.message, str(available))
        except InvalidInput as exc:
            self.session.rollback()
            if intent.amount_fen < minimum:
                return ev.Failed(action, "withdraw_below_min", exc.message, str(minimum))
            raise
        summary = earnings_summary(self.session, self.user_id)
        return ev.WithdrawalRequested(made.number, made.amount_fen, summary.available_fen)

    # -- catalogue ------------------------------------------------------------------------

    def _ShowCategories(self, intent: it.ShowCategories) -> ev.Event:  # noqa: N802
        return browse_cache().get_or_compute(("categories",), self._list_categories)

    def _list_categories(self) -> ev.CategoriesListed:
        on_sale = catalogue.public_products_query().subquery()
        stocked = set(self.session.scalars(select(on_sale.c.category_id).distinct()))
        items = tuple(
            (c.id, c.name) for c in catalogue.list_categories(self.session) if c.id in stocked
        )
        return ev.CategoriesListed(items)

    def _page_of_products(
        self, intent: it.ShowProducts | it.SearchProducts, category_id: int | None,
        query: str | None,
    ) -> tuple[list[Product], int, int, int]:
        stmt = catalogue.public_products_query(category_id=category_id, keyword=query)
        total = int(self.session.scalar(
            select(func.count()).select_from(stmt.order_by(None).subquery())
        ) or 0)
        per_page = max(1, intent.per_page)
        pages = max(1, math.ceil(total / per_page))
        page = min(max(1, intent.page), pages)
        products = list(
            self.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page))
        )
        return products, page, pages, total

    @staticmethod
    def _item(product: Product) -> ev.ProductItem:
        skus = [s for s in product.skus if s.active]
        prices = [s.price_fen for s in skus] or [0]
        return ev.ProductItem(
            product.id, product.title, min(prices), max(prices), sum(s.stock for s in skus)
        )

    def _ShowProducts(self, intent: it.ShowProducts) -> ev.Event:  # noqa: N802
        key = ("category", intent.category_id, intent.page, intent.per_page)
        return browse_cache().get_or_compute(key, lambda: self._list_category(intent))

    def _list_category(self, intent: it.ShowProducts) -> ev.Event:
        category = self.session.get(Category, intent.category_id)
        if category is None:
            raise NotFound("category not found")
        products, page, pages, total = self._page_of_products(intent, category.id, None)
        return ev.ProductsListed(
            tuple(self._item(p) for p in products), page, pages, total,
            category_id=category.id, category_name=category.name,
        )

    def _SearchProducts(self, intent: it.SearchProducts) -> ev.Event:  # noqa: N802
        key = ("search", intent.query, intent.page, intent.per_page)
        return browse_cache().get_or_compute(key, lambda: self._search(intent))

    def _search(self, intent: it.SearchProducts) -> ev.Event:
        products, page, pages, total = self._page_of_products(intent, None, intent.query)
        return ev.ProductsListed(
            tuple(self._item(p) for p in products), page, pages, total, query=intent.query
        )

    def _ShowProduct(self, intent: it.ShowProduct) -> ev.Event:  # noqa: N802
        product = catalogue.get_public_product(self.session, intent.product_id)
        skus = tuple(
            ev.SkuItem(s.id, s.name, s.price_fen, s.stock) for s in product.skus if s.active
        )
        image = absolute_url(self.base_url, product.image_url)
        # No product page exists yet: the card opens the picture, or the shop's front page.
        return ev.ProductShown(
            product.id, product.title, product.description or "", image,
            image or self.base_url + "/", skus,
        )

    # -- cart -----------------------------------------------------------------------------

    def _cart(self, **extra: Any) -> ev.CartShown:
        lines = tuple(
            ev.CartItemLine(
                line.sku_id, line.product_id, line.title, line.sku_name,
                line.unit_price_fen, line.quantity, line.available, line.stock, line.off_sale,
            )
            for line in cart_service.view_cart(self.session, self.user_id)
        )
        return ev.CartShown(lines, **extra)

    @staticmethod
    def _short_stock(action: str, exc: OutOfStock) -> ev.Failed:
        return ev.Failed(action, "short_stock", exc.message,
                         stock=int(exc.details.get("stock", 0)),
                         in_cart=int(exc.details.get("in_cart", 0)))

    def _AddToCart(self, intent: it.AddToCart) -> ev.Event:  # noqa: N802
        try:
            item = cart_service.add_to_cart(
                self.session, self.user_id, intent.sku_id, intent.quantity)
        except OutOfStock as exc:
            self.session.rollback()
            return self._short_stock("AddToCart", exc)
        sku = self.session.get(Sku, item.sku_id)
        title = sku.product.title if sku is not None else ""
        sku_name = sku.name if sku is not None else ""
        return self._cart(added=(title, intent.quantity), added_sku=sku_name)

    def _ShowCart(self, intent: it.ShowCart) -> ev.Event:  # noqa: N802
        return self._cart()

    def _SetCartQuantity(self, intent: it.SetCartQuantity) -> ev.Event:  # noqa: N802
        try:
            cart_service.set_cart_quantity(
                self.session, self.user_id, intent.sku_id, intent.quantity)
        except OutOfStock as exc:
            self.session.rollback()
            return self._short_stock("SetCartQuantity", exc)
        return self._cart(changed=True)

    def _ClearCart(self, intent: it.ClearCart) -> ev.Event:  # noqa: N802
        cart_service.clear_cart(self.session, self.user_id)
        return self._cart(changed=True)

    # -- checkout -------------------------------------------------------------------------

    def _address_items(self) -> tuple[ev.AddressItem, ...]:
        return tuple(
            ev.AddressItem(a.id, a.recipient, a.phone, f"{a.region} {a.detail}".strip())
            for a in address_service.list_addresses(self.session, self.user_id)
        )

    def _StartCheckout(self, intent: it.StartCheckout) -> ev.Event:  # noqa: N802
        cart = self._cart()
        if not cart.lines:
            return ev.Failed("StartCheckout", "cart_empty")
        short = [line.title for line in cart.lines if not line.available]
        if short:
            return ev.Failed("StartCheckout", "cart_unavailable", subject="、".join(short))
        return ev.CheckoutReady(cart.lines, self._address_items())

    def _CheckAddress(self, intent: it.CheckAddress) -> ev.Event:  # noqa: N802
        rule = _FIELD_RULES.get(intent.field)
        if rule is None:
            raise InvalidInput(f"unknown address field {intent.field!r}")
        try:
            value = rule(getattr(intent, intent.field))
        except AddressError as exc:
            return ev.AddressChecked(intent.field, False, message=str(exc), reason=exc.code)
        return ev.AddressChecked(intent.field, True, value=value)

    def _remember_address(self, shipping: ShippingAddress) -> str:
        """Keep an address typed for a placed order; why not, if it could not be kept."""
        try:
            address_service.remember_address(self.session, self.user_id, shipping)
        except DomainError as exc:
            self.session.rollback()
            return exc.message
        except Exception:  # noqa: BLE001 - the order is placed: report it, log the rest
            log.exception("chat: keeping the address of user %s failed", self.user_id)
            self.session.rollback()
            return "internal error"
        return ""

    def _shipping(self, intent: it.ConfirmOrder) -> ShippingAddress:
        if intent.address_id is not None:
            return resolve_address(self.session, self.user_id, address_id=intent.address_id)
        return resolve_address(self.session, self.user_id, address={
            "recipient": intent.recipient, "phone": intent.phone, "region": "",
            "detail": intent.detail,
        })

    def _created(self, order: Order, duplicate: bool = False) -> ev.OrderCreated:
        return ev.OrderCreated(
            order.number, order.total_fen, pay_page_url(order.number, self.config),
            self.payment_minutes, duplicate,
        )

    def _ConfirmOrder(self, intent: it.ConfirmOrder) -> ev.Event:  # noqa: N802
        claim = self.store.claim_checkout(self.openid, intent.token)
        if not claim.won:
            order = find_order_by_number(self.session, claim.number) if claim.number else None
            if order is None or order.buyer_id != self.user_id:
                return ev.Failed("ConfirmOrder", "in_progress")
            return self._created(order, duplicate=True)
        try:
            if not cart_service.view_cart(self.session, self.user_id):
                self.store.release_checkout(self.openid, intent.token)
                return ev.Failed("ConfirmOrder", "cart_empty")
            shipping = self._shipping(intent)
            order = checkout(self.session, self.user_id, None, shipping)
        except BaseException:
            self.store.release_checkout(self.openid, intent.token)
            raise
        self.store.settle_checkout(self.openid, intent.token, order.number)
        created = self._created(order)
        if intent.save_address and intent.address_id is None:
            # Only now that the order exists: an abandoned checkout saves nothing.
            not_saved = self._remember_address(shipping)
            if not_saved:
                created = replace(created, address_not_saved=not_saved)
        return created

    # -- orders ---------------------------------------------------------------------------

    def _ShowOrders(self, intent: it.ShowOrders) -> ev.Event:  # noqa: N802
        stmt = select(Order).where(Order.buyer_id == self.user_id).order_by(Order.id.desc())
        total = int(self.session.scalar(
            select(func.count()).select_from(stmt.order_by(None).subquery())
        ) or 0)
        per_page = max(1, intent.per_page)
        pages = max(1, math.ceil(total / per_page))
        page = min(max(1, intent.page), pages)
        orders = list(self.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
        items = tuple(
            ev.OrderItem(o.number, o.status, o.total_fen, local_time(o.created_at),
                         sum(line.quantity for line in o.lines))
            for o in orders
        )
        return ev.OrdersListed(items, page, pages, total, intent.purpose)

    def _own_order(self, number: str) -> Order:
        order = find_order_by_number(self.session, number)
        if order is None or order.buyer_id != self.user_id:
            raise NotFound("order not found")
        return order

    def _ShowOrder(self, intent: it.ShowOrder) -> ev.Event:  # noqa: N802
        order = self._own_order(intent.number)
        lines = tuple(
            ev.OrderLineItem(line.title, line.sku_name, line.quantity, line.amount_fen)
            for line in order.lines
        )
        link = pay_page_url(order.number, self.config) \
            if order.status == OrderStatus.PENDING_PAYMENT else None
        return ev.OrderShown(
            order.number, order.status, order.total_fen, order.refunded_fen,
            local_time(order.created_at), lines, order.recipient, order.phone,
            order.shipping_address, link,
        )

    def _status(self, order_id: int) -> str:
        return str(self.session.scalar(select(Order.status).where(Order.id == order_id)))

    def _CancelOrder(self, intent: it.CancelOrder) -> ev.Event:  # noqa: N802
        order = self._own_order(intent.number)
        order_id = order.id
        try:
            cancel_order(self.session, self.actor, order_id, reason="buyer (chat)")
        except Conflict:
            self.session.rollback()
            return ev.Failed("CancelOrder", "cancel_status", subject=self._status(order_id))
        return ev.OrderCancelled(intent.number)

    def _RequestRefund(self, intent: it.RequestRefund) -> ev.Event:  # noqa: N802
        order = self._own_order(intent.number)
        order_id, status = order.id, str(order.status)
        if status == OrderStatus.PENDING_PAYMENT:
            return ev.Failed("RequestRefund", "refund_unpaid")
        try:
            refund = request_refund(self.session, self.actor, order_id, reason=intent.reason)
        except Forbidden as exc:
            self.session.rollback()
            return ev.Failed("RequestRefund", "refund_shipped", exc.message)
        except Conflict as exc:
            self.session.rollback()
            now = self._status(order_id)
            if now in REFUNDABLE:  # refundable after all: a race, say what happened
                return ev.Failed("RequestRefund", "conflict", exc.message)
            return ev.Failed("RequestRefund", "refund_status", exc.message, subject=now)
        return ev.RefundRequested(intent.number, refund.amount_fen)
