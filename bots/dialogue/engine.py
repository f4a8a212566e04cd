"""The dialogue engine: state + input -> state + replies + intents, and the same for events.

It never touches a database or the network. A user's message goes through
:func:`on_input`; the intents it returns are carried out by the storefront,
whose results come back through :func:`on_event` (one event per intent), which
renders them and remembers what a later "2" or "确认" refers to. Both functions
are pure: the state passed in is not modified, and time and randomness come in
through :class:`Context`.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bots.dialogue import events as ev
from bots.dialogue import grammar as g
from bots.dialogue import intents as it
from bots.dialogue.keys import (
    MENU_CART,
    MENU_CATEGORIES,
    MENU_DIST_APPLY,
    MENU_DIST_CODE,
    MENU_DIST_POSTER,
    MENU_DIST_QR,
    MENU_DIST_TEAM,
    MENU_DISTRIBUTOR,
    MENU_HELP,
    MENU_ORDERS,
    MENU_SEARCH,
)
from bots.dialogue.state import State
from bots.dialogue.texts import (
    TEXTS,
    clip,
    item_title,
    lines_block,
    mask_phone,
    say,
    status_label,
    yuan,
)
from bots.messages import ArticleReply, Inbound, InboundKind, Reply, TextReply
from referral.domain.codes import distributor_in_scene, normalise_invite_code

IDLE_SECONDS = 30 * 60  # a list or a checkout left longer than this is forgotten
MAX_SEARCH = 30  # characters; longer "keywords" are sentences pasted by mistake
MAX_REASON = 200  # the refund service's limit
# WeChat cuts text messages at 2048 bytes: a long cart shows its first lines only.
MAX_CART_SHOWN = 10

SUBSCRIBE_SCENE_PREFIX = "qrscene_"  # WeChat's prefix on a subscribe's EventKey
_ORDER_NUMBER = re.compile(r"^CS\d{22}$")

MENU_ITEMS = (g.CATEGORIES, g.SEARCH, g.CART, g.ORDERS, g.DISTRIBUTOR, g.HELP)
_CLICKS = {
    MENU_CATEGORIES: g.Command(g.CATEGORIES, exact=True),
    MENU_SEARCH: g.Command(g.SEARCH, exact=True),
    MENU_CART: g.Command(g.CART, exact=True),
    MENU_ORDERS: g.Command(g.ORDERS, exact=True),
    MENU_DISTRIBUTOR: g.Command(g.DISTRIBUTOR, exact=True),
    MENU_HELP: g.Command(g.HELP, exact=True),
    MENU_DIST_APPLY: g.Command(g.DISTRIBUTOR, (g.APPLY,), exact=True),
    MENU_DIST_CODE: g.Command(g.DISTRIBUTOR, (g.MY_CODE,), exact=True),
    MENU_DIST_QR: g.Command(g.DISTRIBUTOR, (g.MY_QR,), exact=True),
    MENU_DIST_POSTER: g.Command(g.DISTRIBUTOR, (g.POSTER,), exact=True),
    MENU_DIST_TEAM: g.Command(g.DISTRIBUTOR, (g.MY_TEAM,), exact=True),
}
# Distributor-centre actions and the intent each asks for (the others are answered here).
_DISTRIBUTOR_INTENTS: dict[str, Callable[[], it.Intent]] = {
    g.APPLY: it.ApplyDistributor,
    g.MY_CODE: it.ShowInviteCode,
    g.MY_QR: it.ShowQrCode,
    g.POSTER: it.RequestPoster,
    g.MY_TEAM: it.ShowTeam,
    g.MY_EARNINGS: it.ShowEarnings,
    g.WITHDRAW: it.ShowWithdrawal,
}
# Why the shop would not show a distributor tool: the user's distributor status.
_STATUS_REFUSALS = {"not_distributor", "pending", "rejected", "frozen", "revoked"}
_DISTRIBUTOR_TOOLS = {"ApplyDistributor", "ShowInviteCode", "ShowQrCode", "RequestPoster",
                      "ShowTeam", "ShowEarnings", "ShowWithdrawal", "RequestWithdrawal"}
# Why a withdrawal was refused (Failed codes from the shop) -> what to say.
_WITHDRAW_REFUSALS = {"withdraw_debt", "withdraw_insufficient", "withdraw_below_min"}
# A withdrawal amount in yuan: up to two decimals, an optional ¥ before or 元/块/yuan after.
_YUAN = re.compile(r"^[¥￥]?(\d{1,9})(?:\.(\d{1,2}))? ?(?:元|块|块钱|yuan|rmb|cny)?$")
# Refusals of a typed invite code -> what to say.
_CODE_REFUSALS = {
    "bad_code": "code_bad",
    "unknown_code": "code_unknown",
    "not_distributor": "code_unknown",
    "self": "code_self",
    "distributor_inactive": "code_inactive",
    "cycle": "code_cycle",
}
_LEVEL_NAMES_ZH = "一二三"
# Steps in which the next line is data (a name, a reason), not a command.
_TYPING = {("checkout", "name"), ("checkout", "phone"), ("checkout", "detail"),
           ("refund", "reason"), ("search", "query")}
# Commands that still work as commands while typing data, when typed alone.
_ESCAPES = {g.HELP, g.MENU, g.CATEGORIES, g.CART, g.CHECKOUT, g.ORDERS, g.DISTRIBUTOR, g.CANCEL}
# Commands that leave whatever flow was going on.
_KEEPS_FLOW = {g.HELP, g.CONFIRM, g.CHOOSE, g.CANCEL, g.NEW_ADDRESS, g.NEXT, g.PREV, g.UNKNOWN}
_FIELD_STEP = {"recipient": "name", "phone": "phone", "detail": "detail"}
# What may be said while the engine waits for a size ("加购 2" on a product with several
# SKUs): the number itself, help, cancel, or something it did not understand (hinted again).
_KEEPS_SKU_STEP = {g.CHOOSE, g.HELP, g.CANCEL, g.UNKNOWN}


@dataclass(frozen=True)
class Context:
    """What the engine may not find out by itself: the time and a fresh random token."""

    now: float
    nonce: str = ""
    idle_seconds: int = IDLE_SECONDS


@dataclass(frozen=True)
class Turn:
    """The engine's answer: the new state, replies to send, intents to carry out."""

    state: State
    replies: tuple[Reply, ...] = ()
    intents: tuple[it.Intent, ...] = ()


def on_input(state: State, inbound: Inbound, ctx: Context) -> Turn:
    """React to something the user did."""
    turn = _Turn(state, ctx)
    turn.user_did(inbound)
    return turn.result()


def on_event(state: State, event: ev.Event, ctx: Context) -> Turn:
    """React to the outcome of an intent."""
    turn = _Turn(state, ctx)
    turn.shop_did(event)
    return turn.result()


def referrer_id(scene: str | None) -> int | None:
    """The distributor's user id a QR scene names ("dist_42" or "qrscene_dist_42")."""
    return distributor_in_scene((scene or "").strip())


class _Turn:
    """One call of the engine: a private copy of the state plus what to answer."""

    def __init__(self, state: State, ctx: Context) -> None:
        self.s = state.copy()
        self.ctx = ctx
        self.replies: list[Reply] = []
        self.intents: list[it.Intent] = []
        self.expired: str | None = None  # "flow" or "list" when the old state timed out

    def result(self) -> Turn:
        return Turn(self.s, tuple(self.replies), tuple(self.intents))

    # -- output helpers -------------------------------------------------------------------

    def t(self, key: str, **fields: Any) -> str:
        return say(self.s.lang, key, **fields)

    def reply(self, *parts: str) -> None:
        # One message per turn where possible: only the first goes back as the passive
        # reply, the others cost customer-service quota.
        self.replies.append(TextReply("\n".join(p for p in parts if p)))

    def ask(self, intent: it.Intent) -> None:
        self.intents.append(intent)

    # -- input ----------------------------------------------------------------------------

    def user_did(self, inbound: Inbound) -> None:
        kind = inbound.kind
        if kind is InboundKind.VIEW or (
            kind is InboundKind.OTHER and (inbound.text or "").startswith("event:")
        ):
            return  # opening a link or a system event: nobody is waiting for an answer
        if kind is InboundKind.UNSUBSCRIBE:
            self.s = State(lang=self.s.lang)
            return
        self._expire()
        self.s.touched = self.ctx.now
        if kind in (InboundKind.SUBSCRIBE, InboundKind.SCAN):
            self._welcome(inbound.scene, returning=kind is InboundKind.SCAN)
        elif kind is InboundKind.CLICK:
            key = (inbound.text or "").strip()
            self._command(_CLICKS.get(key, g.Command(g.HELP, exact=True)))
        elif kind is InboundKind.TEXT:
            self._typed(inbound.text)
        elif kind is InboundKind.OTHER:
            self.reply(self.t("help"))  # a message type we do not know: show what we do know
        else:
            self.reply(self.t("media"), self.t("help"))

    def _expire(self) -> None:
        s = self.s
        if not s.touched or self.ctx.now - s.touched <= self.ctx.idle_seconds:
            return
        if s.flow:
            self.expired = "flow"
        elif s.listing or s.product:
            self.expired = "list"
        self.s = State(lang=s.lang)

    def _welcome(self, scene: str | None, returning: bool) -> None:
        if referrer_id(scene) is not None:
            # The binding keeps the EventKey as WeChat sent it; the adapter hands a
            # subscribe's scene over without WeChat's "qrscene_" prefix.
            raw = (scene or "").strip()
            if not returning and not raw.startswith(SUBSCRIBE_SCENE_PREFIX):
                raw = SUBSCRIBE_SCENE_PREFIX + raw
            self.ask(it.BindScene(raw, returning))
            return
        self._greet(None, returning)

    def _greet(self, nickname: str | None, returning: bool) -> None:
        self.s.flow = None
        self._set_menu()
        first = self.t("welcome_back" if returning else "welcome")
        referred = self.t("referred", name=nickname) if nickname else ""
        self.reply(first, referred, self.t("menu"))

    def _typed(self, text: str) -> None:
        cmd = g.parse(text)
        flow = self.s.flow
        if flow and (flow.get("name"), flow.get("step")) in _TYPING:
            if not (cmd.exact and cmd.name in _ESCAPES):
                self._flow_text(flow, g.clean(text))
                return
        self._command(cmd)

    def _command(self, cmd: g.Command) -> None:
        if cmd.lang:
            self.s.lang = cmd.lang
        if cmd.name not in _KEEPS_FLOW or (
            self._flow_is("add") and cmd.name not in _KEEPS_SKU_STEP
        ):
            self._drop_flow()
        handler: Callable[[g.Command], None] = getattr(self, "_do_" + cmd.name)
        handler(cmd)

    def _flow_is(self, name: str) -> bool:
        flow = self.s.flow
        return flow is not None and flow.get("name") == name

    def _drop_flow(self) -> None:
        if self.s.flow is not None:
            self.s.flow = None
            if self.s.listing and self.s.listing.get("kind") == "addresses":
                self.s.listing = None

    def _no_context(self) -> None:
        if self.expired == "flow":
            self.reply(self.t("flow_expired", minutes=self.ctx.idle_seconds // 60))
        elif self.expired == "list":
            self.reply(self.t("list_expired"))
        else:
            self.reply(self.t("no_list"))

    # -- commands -------------------------------------------------------------------------

    def _do_help(self, cmd: g.Command) -> None:
        self.reply(self.t("help"))

    def _do_unknown(self, cmd: g.Command) -> None:
        if self.expired == "flow":
            self._no_context()
            return
        flow = self.s.flow
        said = self.t("not_understood", text=clip(cmd.rest, 20)) if cmd.rest else ""
        if flow and flow.get("name") == "checkout" and flow.get("step") == "confirm":
            self.reply(said, self.t("confirm_hint"))
        elif flow and flow.get("name") == "checkout" and flow.get("step") == "address":
            self.reply(said, self.t("address_hint"))
        elif flow and flow.get("name") == "add" and self.s.product:
            self.reply(said, self.t("pick_sku_hint", n=len(self.s.product["skus"])))
        else:
            self.reply(said, self.t("help"))

    def _set_menu(self) -> None:
        self.s.listing = {"kind": "menu", "ids": list(MENU_ITEMS)}

    def _do_menu(self, cmd: g.Command) -> None:
        self._set_menu()
        self.reply(self.t("menu"))

    def _do_categories(self, cmd: g.Command) -> None:
        self.ask(it.ShowCategories())

    def _do_search(self, cmd: g.Command) -> None:
        if not cmd.rest:
            self.s.flow = {"name": "search", "step": "query"}
            self.reply(self.t("search_prompt"))
            return
        self._search(cmd.rest)

    def _search(self, query: str) -> None:
        if len(query) > MAX_SEARCH:
            self.reply(self.t("search_too_long"))
            return
        self.ask(it.SearchProducts(query))

    def _do_cart(self, cmd: g.Command) -> None:
        self.ask(it.ShowCart())

    def _do_checkout(self, cmd: g.Command) -> None:
        self.ask(it.StartCheckout())

    def _do_orders(self, cmd: g.Command) -> None:
        if not cmd.args:
            self.ask(it.ShowOrders())
            return
        number = self._order_ref(cmd.args[0])
        if number is not None:
            self.ask(it.ShowOrder(number))

    def _do_order_number(self, cmd: g.Command) -> None:
        self.ask(it.ShowOrder(cmd.args[0]))

    def _order_ref(self, token: str) -> str | None:
        """The order number a token means (a number or a list position); replies if none."""
        if _ORDER_NUMBER.match(token.upper()):
            return token.upper()
        position = g.positive_int(token)
        listing = self.s.listing
        if position is not None and listing and listing.get("kind") == "orders":
            ids = listing["ids"]
            if position <= len(ids):
                return str(ids[position - 1])
            self.reply(self.t("out_of_range", n=len(ids)))
            return None
        if self.expired:
            self._no_context()
        else:
            self.reply(self.t("no_such_order"))
        return None

    def _do_refund(self, cmd: g.Command) -> None:
        if not cmd.args:
            self.ask(it.ShowOrders(purpose="refund"))
            return
        number = self._order_ref(cmd.args[0])
        if number is None:
            return
        parts = cmd.rest.split(" ", 1)
        reason = parts[1].strip() if len(parts) > 1 else ""
        if not reason:
            self.s.flow = {"name": "refund", "step": "reason", "number": number}
            self.reply(self.t("ask_reason"))
        elif len(reason) > MAX_REASON:
            self.s.flow = {"name": "refund", "step": "reason", "number": number}
            self.reply(self.t("reason_too_long"))
        else:
            self.ask(it.RequestRefund(number, reason))

    def _do_cancel(self, cmd: g.Command) -> None:
        if cmd.args:
            number = self._order_ref(cmd.args[0])
            if number is not None:
                self._drop_flow()
                self.ask(it.CancelOrder(number))
            return
        if self.s.flow is not None or self.expired == "flow":
            self._drop_flow()
            self.reply(self.t("cancelled_flow"))
        else:
            self.reply(self.t("nothing_to_cancel"))

    def _do_distributor(self, cmd: g.Command) -> None:
        action = cmd.args[0] if cmd.args else None
        if action is not None and action not in g.DISTRIBUTOR_ACTIONS:
            position = g.positive_int(action)
            count = len(g.DISTRIBUTOR_ACTIONS)
            action = g.DISTRIBUTOR_ACTIONS[position - 1] if position and position <= count else None
        if action is None:
            self.s.listing = {"kind": "distributor", "ids": list(g.DISTRIBUTOR_ACTIONS)}
            self.reply(self.t("distributor_menu"))
            return
        amount = " ".join(cmd.args[1:]) if cmd.args and cmd.args[0] == g.WITHDRAW else ""
        if action == g.WITHDRAW and amount:
            self._withdraw(amount)
            return
        intent = _DISTRIBUTOR_INTENTS.get(action)
        if intent is not None:
            self.ask(intent())
            return
        self.reply(self.t("dist_" + action))

    def _withdraw(self, text: str) -> None:
        """``提现 50`` / ``withdraw 12.5``: an amount in yuan, turned into fen without a float."""
        match = _YUAN.match(text)
        fen = 0
        if match is not None:
            fen = int(match.group(1)) * 100 + int((match.group(2) or "").ljust(2, "0"))
        if fen <= 0:
            self.reply(self.t("withdraw_bad_amount"))
            return
        self.ask(it.RequestWithdrawal(fen))

    def _do_invite(self, cmd: g.Command) -> None:
        if not cmd.rest:
            self._do_distributor(g.Command(g.DISTRIBUTOR, (g.MY_CODE,)))
            return
        self._bind_code(cmd.rest)

    def _do_bind(self, cmd: g.Command) -> None:
        if not cmd.rest:
            self.reply(self.t("bind_hint"))
            return
        self._bind_code(cmd.rest)

    def _bind_code(self, text: str) -> None:
        code = normalise_invite_code(text)
        if code is None:
            self.reply(self.t("code_bad"))
            return
        self.ask(it.BindInviteCode(code))

    def _do_next(self, cmd: g.Command) -> None:
        self._turn_page(+1)

    def _do_prev(self, cmd: g.Command) -> None:
        self._turn_page(-1)

    def _turn_page(self, step: int) -> None:
        listing = self.s.listing
        if not listing or "source" not in listing:
            if self.expired:
                self._no_context()
            else:
                self.reply(self.t("no_pages"))
            return
        page = int(listing.get("page", 1)) + step
        if page > int(listing.get("pages", 1)):
            self.reply(self.t("last_page"))
            return
        if page < 1:
            self.reply(self.t("first_page"))
            return
        source = listing["source"]
        if "category" in source:
            self.ask(it.ShowProducts(int(source["category"]), page))
        elif "query" in source:
            self.ask(it.SearchProducts(str(source["query"]), page))
        else:
            self.ask(it.ShowOrders(page, purpose=str(source.get("orders", "list"))))

    def _do_choose(self, cmd: g.Command) -> None:
        flow = self.s.flow
        if flow and flow.get("name") == "add":
            self._choose_sku(flow, cmd.args[0])
            return
        if flow and flow.get("name") == "checkout":
            if flow.get("step") == "address":
                self._choose_address(cmd.args[0])
            else:
                self.reply(self.t("confirm_hint"))
            return
        listing = self.s.listing
        if not listing:
            self._no_context()
            return
        ids = listing["ids"]
        position = g.positive_int(cmd.args[0])
        if position is None or position > len(ids):
            self.reply(self.t("out_of_range", n=len(ids)))
            return
        chosen = ids[position - 1]
        kind = listing["kind"]
        if kind == "menu":
            self._command(g.Command(str(chosen), exact=True))
        elif kind == "categories":
            self.ask(it.ShowProducts(int(chosen)))
        elif kind == "products":
            self.ask(it.ShowProduct(int(chosen)))
        elif kind == "cart":
            self.ask(it.ShowProduct(int(listing["extra"][position - 1])))
        elif kind == "orders":
            self.ask(it.ShowOrder(str(chosen)))
        elif kind == "distributor":
            self._do_distributor(g.Command(g.DISTRIBUTOR, (str(chosen),)))
        else:
            self._no_context()

    # -- cart -----------------------------------------------------------------------------

    def _do_add(self, cmd: g.Command) -> None:
        product = self.s.product
        if not product:
            if self.expired:
                self._no_context()
            else:
                self.reply(self.t("no_product"))
            return
        numbers = [g.positive_int(a) for a in cmd.args]
        if any(n is None for n in numbers) or len(numbers) > 2:
            self.reply(self.t("bad_quantity"))
            return
        skus = product["skus"]
        values = [n for n in numbers if n is not None]
        if len(values) == 2:
            index, quantity = values
        elif len(skus) == 1:
            index, quantity = 1, (values[0] if values else 1)
        else:
            self._ask_sku(product, values[0] if values else 1)
            return
        self._add_sku(index, quantity)

    def _ask_sku(self, product: dict[str, Any], quantity: int) -> None:
        """A quantity for a product with several SKUs: list them and wait for a number."""
        skus = product["skus"]
        self.s.flow = {"name": "add", "step": "sku", "product": product["id"],
                       "quantity": quantity}
        rows = "\n".join(
            self.t("sku_line", n=n, name=name, price=yuan(int(price)), stock=stock)
            + (self.t("sold_out") if int(stock) <= 0 else "")
            for n, (_id, name, price, stock) in enumerate(skus, 1)
        )
        self.reply(self.t("pick_sku", n=len(skus), qty=quantity, skus=rows))

    def _choose_sku(self, flow: dict[str, Any], token: str) -> None:
        product = self.s.product
        if not product or product.get("id") != flow.get("product"):
            self._drop_flow()
            self._no_context()
            return
        position = g.positive_int(token)
        count = len(product["skus"])
        if position is None or position > count:
            self.reply(self.t("out_of_range", n=count), self.t("pick_sku_hint", n=count))
            return
        quantity = int(flow.get("quantity", 1))
        if self._add_sku(position, quantity):
            self.s.flow = None

    def _add_sku(self, index: int, quantity: int) -> bool:
        """Ask to add ``quantity`` of the product's ``index``-th SKU; False if refused here."""
        product = self.s.product
        assert product is not None
        skus = product["skus"]
        if index > len(skus):
            self.reply(self.t("bad_sku", n=index))
            return False
        sku_id, _name, _price, stock = skus[index - 1]
        if stock <= 0:
            self.reply(self.t("product_sold_out" if len(skus) == 1 else "sku_sold_out"))
            return False
        if quantity > stock:
            self.reply(self.t("short_stock", stock=stock))
            return False
        self.ask(it.AddToCart(int(sku_id), quantity))
        return True

    def _cart_line(self, token: str) -> int | None:
        """The SKU id at a cart position; replies when there is none."""
        listing = self.s.listing
        if not listing or listing.get("kind") != "cart":
            self.reply(self.t("need_cart"))
            return None
        ids = listing["ids"]
        position = g.positive_int(token)
        if position is None or position > len(ids):
            self.reply(self.t("out_of_range", n=len(ids)))
            return None
        return int(ids[position - 1])

    def _do_set(self, cmd: g.Command) -> None:
        if len(cmd.args) != 2 or g.whole_number(cmd.args[1]) is None:
            self.reply(self.t("bad_set_quantity"))
            return
        sku_id = self._cart_line(cmd.args[0])
        if sku_id is not None:
            self.ask(it.SetCartQuantity(sku_id, int(cmd.args[1])))

    def _do_remove(self, cmd: g.Command) -> None:
        if len(cmd.args) != 1:
            self.reply(self.t("bad_remove"))
            return
        sku_id = self._cart_line(cmd.args[0])
        if sku_id is not None:
            self.ask(it.SetCartQuantity(sku_id, 0))

    def _do_clear(self, cmd: g.Command) -> None:
        self.ask(it.ClearCart())

    # -- checkout -------------------------------------------------------------------------

    def _choose_address(self, token: str) -> None:
        flow = self.s.flow
        assert flow is not None
        listing = self.s.listing or {}
        ids = listing.get("ids", []) if listing.get("kind") == "addresses" else []
        if token.isdigit() and int(token) == 0:
            self._do_new_address(g.Command(g.NEW_ADDRESS))
            return
        position = g.positive_int(token)
        if position is None or position > len(ids):
            self.reply(self.t("out_of_range", n=len(ids)), self.t("address_hint"))
            return
        address = {"id": int(ids[position - 1]), "label": str(listing["extra"][position - 1])}
        self._to_confirm(address)

    def _do_new_address(self, cmd: g.Command) -> None:
        flow = self.s.flow
        if not flow or flow.get("name") != "checkout" or flow.get("step") != "address":
            self._do_unknown(g.Command(g.UNKNOWN))
            return
        flow.update(step="name", draft={})
        self.s.listing = None
        self.reply(self.t("ask_name_again"))

    def _to_confirm(self, address: dict[str, Any]) -> None:
        flow = self.s.flow
        assert flow is not None
        # A fresh token per confirmation: the executor creates at most one order per token,
        # so a double tap on "确认" cannot order twice.
        token = self.ctx.nonce or f"t{self.ctx.now:.6f}"
        flow.update(step="confirm", address=address, token=token)
        if self.s.listing and self.s.listing.get("kind") == "addresses":
            self.s.listing = None
        self.reply(self._confirm_text(address["label"]))

    def _confirm_text(self, label: str, note: str = "") -> str:
        flow = self.s.flow or {}
        lines = lines_block(self.s.lang, [(str(t), int(q), int(a)) for t, q, a in flow["lines"]])
        text = self.t("confirm", lines=lines, total=yuan(int(flow.get("total", 0))),
                      address=label)
        return f"{note}\n{text}" if note else text

    def _do_confirm(self, cmd: g.Command) -> None:
        flow = self.s.flow
        if flow and flow.get("name") == "checkout":
            step = flow.get("step")
            if step == "confirm":
                address = flow["address"]
                self.ask(it.ConfirmOrder(
                    token=str(flow["token"]),
                    address_id=address.get("id"),
                    recipient=address.get("recipient", ""),
                    phone=address.get("phone", ""),
                    detail=address.get("detail", ""),
                    save_address=bool(address.get("save", False)),
                ))
            elif step == "address":
                self.reply(self.t("address_hint"))
            else:
                self.reply(self.t("nothing_to_confirm"))
            return
        last = self.s.last_order
        if last:
            self.reply(self.t("already_ordered", number=last["number"], pay_url=last["pay_url"]))
        elif self.expired == "flow":
            self._no_context()
        else:
            self.reply(self.t("nothing_to_confirm"))

    def _flow_text(self, flow: dict[str, Any], text: str) -> None:
        name, step = flow.get("name"), flow.get("step")
        if name == "search":
            self.s.flow = None
            if text:
                self._search(text)
            else:
                self.reply(self.t("search_prompt"))
        elif name == "refund":
            if not text:
                self.reply(self.t("ask_reason"))
            elif len(text) > MAX_REASON:
                self.reply(self.t("reason_too_long"))
            else:
                self.s.flow = None
                self.ask(it.RequestRefund(str(flow["number"]), text))
        else:
            draft = dict(flow.get("draft") or {})
            field = {"name": "recipient", "phone": "phone", "detail": "detail"}[str(step)]
            draft[field] = text
            self.ask(it.CheckAddress(
                field,
                recipient=draft.get("recipient", ""),
                phone=draft.get("phone", ""),
                detail=draft.get("detail", ""),
            ))

    # -- events ---------------------------------------------------------------------------

    def shop_did(self, event: ev.Event) -> None:
        handler: Callable[[Any], None] = getattr(self, "_on_" + type(event).__name__)
        handler(event)

    def _on_SceneBound(self, event: ev.SceneBound) -> None:  # noqa: N802
        # Only name the distributor the user is actually with now: when the rules keep an
        # earlier one (or refuse), the scan changed nothing worth mentioning.
        named = event.outcome in ("bound", "already")
        self._greet(event.name if named and event.name else None, event.returning)

    def _on_InviteCodeBound(self, event: ev.InviteCodeBound) -> None:  # noqa: N802
        name = event.name or self.t("a_friend")
        self.reply(self.t("code_" + event.outcome, name=name))

    def _on_DistributorApplied(self, event: ev.DistributorApplied) -> None:  # noqa: N802
        status, before = event.status, event.before
        if status == "active":
            first = "dist_already_active" if before == "active" else "dist_approved"
            self.reply(self.t(first), self.t("dist_tools"))
        elif status == "pending" and event.missing_fen > 0:
            self.reply(self.t("dist_spend_missing", threshold=yuan(event.threshold_fen),
                              missing=yuan(event.missing_fen)))
        elif status == "pending":
            self.reply(self.t("dist_still_pending" if before == "pending" else "dist_applied"))
        elif "dist_status_" + status in TEXTS:
            self.reply(self.t("dist_status_" + status))
        else:
            self.reply(self.t("failed", message=status))

    def _on_InviteCodeShown(self, event: ev.InviteCodeShown) -> None:  # noqa: N802
        self.reply(self.t("invite_code", code=event.code, share_url=event.share_url))

    def _on_QrCodeShown(self, event: ev.QrCodeShown) -> None:  # noqa: N802
        # A news card shows the code itself; opening it gives the full-size picture
        # to press and hold (save, forward), which is how WeChat users share a code.
        self.replies.append(ArticleReply(
            self.t("qr_title"), self.t("qr_description", code=event.code), event.image_url,
            event.image_url,
        ))

    def _on_PosterRequested(self, event: ev.PosterRequested) -> None:  # noqa: N802
        self.reply(self.t("poster_requested"))

    def _level_name(self, level: int) -> str:
        if self.s.lang == "zh" and 1 <= level <= len(_LEVEL_NAMES_ZH):
            return _LEVEL_NAMES_ZH[level - 1]
        return str(level)

    def _on_TeamShown(self, event: ev.TeamShown) -> None:  # noqa: N802
        rows = "\n".join(
            self.t("team_level", level=self._level_name(x.level), orders=x.orders,
                   amount=yuan(x.sales_fen))
            for x in event.levels
        )
        period = self.t("team_period", year=event.year, month=event.month)
        self.reply(self.t("team", direct=event.direct_count, size=event.team_size,
                          period=period, rows=rows, total=yuan(event.sales_fen)))

    def _on_EarningsShown(self, event: ev.EarningsShown) -> None:  # noqa: N802
        rows = "\n".join(
            self.t("earning_line", number=x.order_number, level=self._level_name(x.level),
                   amount=yuan(x.net_fen) if x.net_fen >= 0 else "-" + yuan(-x.net_fen),
                   status=self.t("earning_" + x.status))
            for x in event.lines
        ) or self.t("earnings_none")
        debt = self.t("earnings_debt", debt=yuan(event.debt_fen)) if event.debt_fen else ""
        self.reply(self.t("earnings", pending=yuan(event.pending_fen),
                          available=yuan(event.available_fen),
                          withdrawing=yuan(event.withdrawing_fen),
                          withdrawn=yuan(event.withdrawn_fen), rows=rows), debt)

    def _on_WithdrawalInfo(self, event: ev.WithdrawalInfo) -> None:  # noqa: N802
        if event.debt_fen:
            self.reply(self.t("withdraw_debt", amount=yuan(event.debt_fen)))
            return
        if event.available_fen < event.min_fen:
            self.reply(self.t("withdraw_nothing", available=yuan(event.available_fen),
                              withdrawing=yuan(event.withdrawing_fen),
                              minimum=yuan(event.min_fen)))
            return
        self.reply(self.t("withdraw_info", available=yuan(event.available_fen),
                          withdrawing=yuan(event.withdrawing_fen), minimum=yuan(event.min_fen)),
                   self.t("withdraw_how"))

    def _on_WithdrawalRequested(self, event: ev.WithdrawalRequested) -> None:  # noqa: N802
        self.reply(self.t("withdraw_requested", amount=yuan(event.amount_fen),
                          number=event.number, available=yuan(event.available_fen)))

    def _on_CategoriesListed(self, event: ev.CategoriesListed) -> None:  # noqa: N802
        if not event.items:
            self.reply(self.t("no_categories"))
            return
        self.s.listing = {"kind": "categories", "ids": [cid for cid, _ in event.items]}
        rows = [f"{n}. {name}" for n, (_, name) in enumerate(event.items, 1)]
        self.reply(self.t("categories"), *rows, self.t("pick_category"))

    def _price(self, low: int, high: int) -> str:
        return yuan(low) if low == high else self.t("from_price", price=yuan(low))

    def _on_ProductsListed(self, event: ev.ProductsListed) -> None:  # noqa: N802
        if event.query is not None:
            title = self.t("search_title", query=clip(event.query, MAX_SEARCH))
            source: dict[str, Any] = {"query": event.query}
        else:
            title = self.t("products_title", name=event.category_name)
            source = {"category": event.category_id}
        if not event.items:
            self.s.listing = None
            if event.query is not None:
                self.reply(self.t("no_results", query=clip(event.query, MAX_SEARCH)))
            else:
                self.reply(title, self.t("no_products"))
            return
        self.s.listing = {
            "kind": "products",
            "ids": [p.id for p in event.items],
            "page": event.page,
            "pages": event.pages,
            "source": source,
        }
        if event.pages > 1:
            title += " " + self.t("page_of", page=event.page, pages=event.pages)
        # Positions restart at 1 on every page: the number typed is the number seen.
        rows = [
            f"{n}. {clip(p.title, 30)} {self._price(p.price_fen, p.max_price_fen)}"
            + (self.t("sold_out") if p.stock <= 0 else "")
            for n, p in enumerate(event.items, 1)
        ]
        paging = self.t("paging_hint") if event.pages > 1 else ""
        self.reply(title, *rows, self.t("pick_product", paging=paging))

    def _on_ProductShown(self, event: ev.ProductShown) -> None:  # noqa: N802
        skus = event.skus
        self.s.product = {
            "id": event.id,
            "title": event.title,
            "skus": [[k.id, k.name, k.price_fen, k.stock] for k in skus],
        }
        low = min((k.price_fen for k in skus), default=0)
        high = max((k.price_fen for k in skus), default=0)
        stock = sum(k.stock for k in skus)
        card = self.t("product_card" if stock > 0 else "product_card_sold_out",
                      price=self._price(low, high), stock=stock)
        description = card + ("\n" + clip(event.description, 120) if event.description else "")
        self.replies.append(ArticleReply(event.title, description, event.image_url, event.url))
        if stock <= 0:
            self.reply(self.t("product_sold_out"))
        elif len(skus) == 1:
            self.reply(self.t("how_to_add_one"))
        else:
            rows = "\n".join(
                self.t("sku_line", n=n, name=k.name, price=yuan(k.price_fen), stock=k.stock)
                for n, k in enumerate(skus, 1)
            )
            self.reply(self.t("how_to_add_many", skus=rows))

    def _on_CartShown(self, event: ev.CartShown) -> None:  # noqa: N802
        count = sum(line.quantity for line in event.lines)
        unavailable = event.unavailable_count
        if event.added is not None:
            title, quantity = event.added
            summary = self.t("cart_summary_partial", count=count, total=yuan(event.total_fen),
                             n=unavailable) if unavailable else \
                self.t("cart_summary", count=count, total=yuan(event.total_fen))
            self.reply(self.t("added", title=item_title(title, event.added_sku), qty=quantity),
                       summary)
            return
        if not event.lines:
            if self.s.listing and self.s.listing.get("kind") == "cart":
                self.s.listing = None
            self.reply(self.t("cart_changed") if event.changed else "", self.t("cart_empty"))
            return
        self.s.listing = {
            "kind": "cart",
            "ids": [line.sku_id for line in event.lines],
            "extra": [line.product_id for line in event.lines],
        }
        rows = [
            self.t("cart_line", n=n, title=item_title(line.title, line.sku_name),
                   price=yuan(line.unit_price_fen), qty=line.quantity,
                   amount=yuan(line.amount_fen))
            + self._unavailable_note(line)
            for n, line in enumerate(event.lines[:MAX_CART_SHOWN], 1)
        ]
        if len(event.lines) > MAX_CART_SHOWN:
            rows.append(self.t("cart_more", n=len(event.lines) - MAX_CART_SHOWN))
        # Lines that cannot be ordered keep their price and amount; the total counts only
        # what checkout would order, and says how many lines it leaves out.
        total = self.t("cart_total_partial", total=yuan(event.total_fen), n=unavailable) \
            if unavailable else self.t("cart_total", total=yuan(event.total_fen))
        self.reply(
            self.t("cart_changed") if event.changed else "",
            self.t("cart_title"),
            *rows,
            total,
            self.t("cart_hint"),
        )

    def _unavailable_note(self, line: ev.CartItemLine) -> str:
        if line.available:
            return ""
        if line.off_sale:
            return self.t("cart_line_off_sale")
        return self.t("cart_line_short", stock=max(0, line.stock))

    def _on_CheckoutReady(self, event: ev.CheckoutReady) -> None:  # noqa: N802
        if not event.lines:
            self.reply(self.t("cart_empty"))
            return
        rows = [(item_title(x.title, x.sku_name), x.quantity, x.amount_fen) for x in event.lines]
        self.s.flow = {
            "name": "checkout",
            "total": event.total_fen,
            "lines": [list(row) for row in rows],
            "draft": {},
        }
        summary = self.t("checkout_lines") + "\n" + lines_block(self.s.lang, rows)
        total = yuan(event.total_fen)
        if event.addresses:
            self.s.flow["step"] = "address"
            labels = [_address_label(a.recipient, a.phone, a.address) for a in event.addresses]
            self.s.listing = {
                "kind": "addresses",
                "ids": [a.id for a in event.addresses],
                "extra": labels,
            }
            choices = "\n".join(f"{n}. {label}" for n, label in enumerate(labels, 1))
            self.reply(summary, self.t("choose_address", total=total, addresses=choices))
        else:
            self.s.flow["step"] = "name"
            self.reply(summary, self.t("ask_name", total=total))

    def _on_AddressChecked(self, event: ev.AddressChecked) -> None:  # noqa: N802
        flow = self.s.flow
        step = _FIELD_STEP.get(event.field)
        if not flow or flow.get("name") != "checkout" or flow.get("step") != step:
            return  # the user moved on meanwhile
        if not event.ok:
            specific = "bad_" + event.reason
            self.reply(self.t(specific if event.reason and specific in TEXTS
                              else "bad_" + event.field))
            return
        draft = dict(flow.get("draft") or {})
        draft[event.field] = event.value
        flow["draft"] = draft
        if event.field == "recipient":
            flow["step"] = "phone"
            self.reply(self.t("ask_phone"))
        elif event.field == "phone":
            flow["step"] = "detail"
            self.reply(self.t("ask_address"))
        else:
            # Nothing is saved yet: the address is kept for next time only when the order
            # is placed, so a checkout abandoned here leaves no trace.
            recipient, phone, detail = draft["recipient"], draft["phone"], draft["detail"]
            self._to_confirm({
                "recipient": recipient, "phone": phone, "detail": detail, "save": True,
                "label": _address_label(recipient, phone, detail),
            })

    def _on_OrderCreated(self, event: ev.OrderCreated) -> None:  # noqa: N802
        self.s.flow = None
        self.s.listing = None
        self.s.last_order = {"number": event.number, "pay_url": event.pay_url}
        if event.duplicate:
            self.reply(self.t("already_ordered", number=event.number, pay_url=event.pay_url))
            return
        note = self.t("address_not_saved", message=event.address_not_saved) \
            if event.address_not_saved else ""
        self.reply(self.t("order_created", number=event.number, total=yuan(event.total_fen),
                          minutes=event.expires_minutes, pay_url=event.pay_url), note)

    def _on_OrdersListed(self, event: ev.OrdersListed) -> None:  # noqa: N802
        if not event.items:
            self.s.listing = None
            self.reply(self.t("no_orders"))
            return
        self.s.listing = {
            "kind": "orders",
            "ids": [o.number for o in event.items],
            "page": event.page,
            "pages": event.pages,
            "source": {"orders": event.purpose},
        }
        rows = [
            self.t("order_item", n=n, number=o.number, status=status_label(self.s.lang, o.status),
                   total=yuan(o.total_fen), created=o.created)
            for n, o in enumerate(event.items, 1)
        ]
        page_of = self.t("page_of", page=event.page, pages=event.pages)
        hint = self.t("orders_hint_" + (event.purpose if event.purpose in
                                         ("refund", "cancel") else "list"))
        paging = self.t("paging_hint").lstrip("，; ") if event.pages > 1 else ""
        self.reply(self.t("orders_title", page_of=page_of), *rows, hint, paging)

    def _on_OrderShown(self, event: ev.OrderShown) -> None:  # noqa: N802
        lines = lines_block(
            self.s.lang,
            [(item_title(x.title, x.sku_name), x.quantity, x.amount_fen) for x in event.lines],
        )
        refunded = self.t("refunded_part", amount=yuan(event.refunded_fen)) \
            if event.refunded_fen else ""
        text = self.t(
            "order_detail", number=event.number, status=status_label(self.s.lang, event.status),
            created=event.created, lines=lines, total=yuan(event.total_fen), refunded=refunded,
            recipient=event.recipient, phone=mask_phone(event.phone), address=event.address,
        )
        pay = self.t("pay_link", pay_url=event.pay_url) if event.pay_url else ""
        self.reply(text, pay)

    def _on_OrderCancelled(self, event: ev.OrderCancelled) -> None:  # noqa: N802
        self.reply(self.t("order_cancelled", number=event.number))

    def _on_RefundRequested(self, event: ev.RefundRequested) -> None:  # noqa: N802
        self.reply(self.t("refund_requested", number=event.number, amount=yuan(event.amount_fen)))

    def _on_Failed(self, event: ev.Failed) -> None:  # noqa: N802
        code, action = event.code, event.action
        if action == "BindScene":
            # A scan is answered with a welcome whatever happened to the binding.
            self._greet(None, returning=False)
            return
        if action in _DISTRIBUTOR_TOOLS and code in _STATUS_REFUSALS:
            self.reply(self.t("dist_status_" + code))
            return
        if action == "RequestWithdrawal":
            if code in _WITHDRAW_REFUSALS:
                # subject: the available balance, the debt or the minimum, in fen.
                amount = yuan(int(event.subject or 0))
                self.reply(self.t(code, amount=amount), self.t("withdraw_how"))
            else:
                self.reply(self.t("withdraw_failed", message=event.message))
            return
        if action == "BindInviteCode" and code in _CODE_REFUSALS:
            self.reply(self.t(_CODE_REFUSALS[code]))
            return
        if action == "ShowQrCode":
            # WeChat refused or was slow making the code, or it is being made right now.
            self.reply(self.t("qr_unavailable"))
            return
        if code == "internal":
            if action in ("ConfirmOrder", "StartCheckout"):
                self.s.flow = None
            self.reply(self.t("internal"))
            return
        if code == "short_stock" and event.stock is not None:
            stock, in_cart = max(0, event.stock), max(0, event.in_cart)
            if in_cart and in_cart >= stock:
                self.reply(self.t("short_stock_all_in_cart", stock=stock))
            elif in_cart:
                self.reply(self.t("short_stock_cart", stock=stock, in_cart=in_cart,
                                  more=stock - in_cart))
            else:
                self.reply(self.t("short_stock", stock=stock))
            return
        if action == "StartCheckout":
            self.s.flow = None
            if code == "cart_empty":
                self.reply(self.t("cart_empty"))
            elif code == "cart_unavailable":
                self.reply(self.t("checkout_unavailable", subject=event.subject))
            else:
                self.reply(self.t("checkout_failed", message=event.message))
        elif action == "ConfirmOrder":
            if code == "in_progress":
                self.reply(self.t("order_in_progress"))
                return
            self.s.flow = None
            if code == "cart_empty":
                self.reply(self.t("cart_empty"))
            elif code == "out_of_stock":
                self.reply(self.t("out_of_stock", subject=event.subject))
            else:
                self.reply(self.t("checkout_failed", message=event.message))
        elif action in ("AddToCart", "SetCartQuantity", "ClearCart"):
            self.reply(self.t("cart_failed", message=event.message))
        elif action == "ShowProduct" and code == "not_found":
            self.s.product = None
            self.reply(self.t("product_gone"))
        elif code == "not_found" and action in ("ShowOrder", "CancelOrder", "RequestRefund"):
            self.reply(self.t("no_such_order"))
        elif code == "cancel_status":
            self.reply(self.t("cancel_status", status=status_label(self.s.lang, event.subject)))
        elif code in ("refund_unpaid", "refund_shipped"):
            self.reply(self.t(code))
        elif code == "refund_status":
            self.reply(self.t("refund_status", status=status_label(self.s.lang, event.subject)))
        elif action == "RequestRefund":
            self.reply(self.t("refund_failed", message=event.message))
        else:
            self.reply(self.t("failed", message=event.message))


def _address_label(recipient: str, phone: str, address: str) -> str:
    return f"{recipient} {mask_phone(phone)} {clip(address, 60)}"
