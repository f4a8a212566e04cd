"""What the shop answers to an intent: plain values the engine renders and remembers."""
from __future__ import annotations

from dataclasses import dataclass

from bots.dialogue.intents import Intent


@dataclass(frozen=True)
class SceneBound:
    """What a QR scan did to the user's upline.

    ``outcome``: "bound" (new or moved), "already" (bound to this distributor
    before), "kept" (the rules keep an earlier distributor) or "refused"
    (self, inactive, unknown, malformed: nothing changed). ``name`` is the
    scanned distributor's nickname, set for "bound" and "already" only.
    """

    outcome: str
    name: str = ""
    returning: bool = False  # an existing follower scanned (SCAN), not a new follow


@dataclass(frozen=True)
class InviteCodeBound:
    """A typed invite code: "bound", "already" (that distributor) or "kept" (``name``'s)."""

    outcome: str
    name: str = ""


@dataclass(frozen=True)
class DistributorApplied:
    """The user's distributor record after applying.

    ``before`` is the status before ("" when they never applied); while the
    spend rule holds an application back, ``missing_fen`` is how much more
    completed spending it needs and ``threshold_fen`` the rule's amount.
    """

    status: str
    before: str = ""
    missing_fen: int = 0
    threshold_fen: int = 0


@dataclass(frozen=True)
class InviteCodeShown:
    """The distributor's invite code and share link."""

    code: str
    share_url: str


@dataclass(frozen=True)
class QrCodeShown:
    """The distributor's referral QR code: the picture's URL and their invite code."""

    image_url: str
    code: str


@dataclass(frozen=True)
class PosterRequested:
    """The poster is being made; it arrives as a customer-service message."""


@dataclass(frozen=True)
class LevelSales:
    """Team sales at one commission level: orders and their amount net of refunds."""

    level: int
    orders: int
    sales_fen: int


@dataclass(frozen=True)
class EarningLine:
    """One commission (or clawback) line of a distributor's statement."""

    order_number: str
    level: int
    net_fen: int  # what it adds to the balances; negative for a clawback
    status: str  # pending, available, reversed


@dataclass(frozen=True)
class EarningsShown:
    """A distributor's balances in fen and their latest statement lines."""

    pending_fen: int
    available_fen: int
    withdrawing_fen: int
    withdrawn_fen: int
    debt_fen: int
    lines: tuple[EarningLine, ...]


@dataclass(frozen=True)
class WithdrawalInfo:
    """What a distributor can withdraw now, in fen, and the smallest withdrawal."""

    available_fen: int
    withdrawing_fen: int
    debt_fen: int
    min_fen: int


@dataclass(frozen=True)
class WithdrawalRequested:
    """A withdrawal was requested: its number, amount and what is still available."""

    number: str
    amount_fen: int
    available_fen: int


@dataclass(frozen=True)
class TeamShown:
    """A distributor's team: head counts and the sales of one month by level."""

    direct_count: int
    team_size: int
    year: int
    month: int
    levels: tuple[LevelSales, ...]

    @property
    def sales_fen(self) -> int:
        """The month's sales at every level together."""
        return sum(level.sales_fen for level in self.levels)


@dataclass(frozen=True)
class CategoriesListed:
    """The shop's categories as (id, name) pairs."""

    items: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class ProductItem:
    """A product in a list: lowest and highest SKU price, total stock."""

    id: int
    title: str
    price_fen: int
    max_price_fen: int
    stock: int


@dataclass(frozen=True)
class ProductsListed:
    """A page of products from a category (``category_id``) or a search (``query``)."""

    items: tuple[ProductItem, ...]
    page: int
    pages: int
    total: int
    category_id: int | None = None
    category_name: str = ""
    query: str | None = None


@dataclass(frozen=True)
class SkuItem:
    """A sellable variant of a product."""

    id: int
    name: str
    price_fen: int
    stock: int


@dataclass(frozen=True)
class ProductShown:
    """A product's details; URLs are absolute."""

    id: int
    title: str
    description: str
    image_url: str
    url: str
    skus: tuple[SkuItem, ...]


@dataclass(frozen=True)
class CartItemLine:
    """One cart line; ``available`` is False when off sale or short of stock.

    ``stock`` is what the SKU has left; ``off_sale`` tells an unavailable line that
    is no longer sold from one that is only short of stock.
    """

    sku_id: int
    product_id: int
    title: str
    sku_name: str
    unit_price_fen: int
    quantity: int
    available: bool = True
    stock: int = 0
    off_sale: bool = False

    @property
    def amount_fen(self) -> int:
        """Price times quantity."""
        return self.unit_price_fen * self.quantity


@dataclass(frozen=True)
class CartShown:
    """The cart after a look or a change; ``added`` names what was just added."""

    lines: tuple[CartItemLine, ...]
    added: tuple[str, int] | None = None
    changed: bool = False
    added_sku: str = ""  # the SKU name of what was just added, to name the size

    @property
    def total_fen(self) -> int:
        """What can be ordered now: the sum of the available lines (the others are noted)."""
        return sum(line.amount_fen for line in self.lines if line.available)

    @property
    def unavailable_count(self) -> int:
        """How many lines cannot be ordered now (off sale or short of stock)."""
        return sum(1 for line in self.lines if not line.available)


@dataclass(frozen=True)
class AddressItem:
    """A saved address, ready to show (``address`` is the one-line postal address)."""

    id: int
    recipient: str
    phone: str
    address: str


@dataclass(frozen=True)
class CheckoutReady:
    """What checkout will order (the whole cart) and where it can go."""

    lines: tuple[CartItemLine, ...]
    addresses: tuple[AddressItem, ...]

    @property
    def total_fen(self) -> int:
        """The order's total at current prices."""
        return sum(line.amount_fen for line in self.lines)


@dataclass(frozen=True)
class AddressChecked:
    """The verdict on one typed address field; ``value`` is its clean form."""

    field: str
    ok: bool
    value: str = ""
    message: str = ""
    reason: str = ""  # which rule refused it (shop.domain.addresses codes), when not ok


@dataclass(frozen=True)
class OrderCreated:
    """The order checkout created (or had created for the same token: ``duplicate``).

    ``address_not_saved`` is why an address typed for this order could not be kept
    for next time (empty when it was, or when none was typed).
    """

    number: str
    total_fen: int
    pay_url: str
    expires_minutes: int
    duplicate: bool = False
    address_not_saved: str = ""


@dataclass(frozen=True)
class OrderItem:
    """An order in a list."""

    number: str
    status: str
    total_fen: int
    created: str  # local time, "MM-DD HH:MM"
    quantity: int


@dataclass(frozen=True)
class OrdersListed:
    """A page of the buyer's orders, newest first."""

    items: tuple[OrderItem, ...]
    page: int
    pages: int
    total: int
    purpose: str = "list"


@dataclass(frozen=True)
class OrderLineItem:
    """What an order line bought."""

    title: str
    sku_name: str
    quantity: int
    amount_fen: int


@dataclass(frozen=True)
class OrderShown:
    """One order in full; ``pay_url`` only while it awaits payment."""

    number: str
    status: str
    total_fen: int
    refunded_fen: int
    created: str
    lines: tuple[OrderLineItem, ...]
    recipient: str
    phone: str
    address: str
    pay_url: str | None = None


@dataclass(frozen=True)
class OrderCancelled:
    """An unpaid order was cancelled and its stock released."""

    number: str


@dataclass(frozen=True)
class RefundRequested:
    """A refund was opened (its outcome comes later from WeChat Pay)."""

    number: str
    amount_fen: int


@dataclass(frozen=True)
class Failed:
    """The shop refused or could not do an intent.

    ``code`` picks a message the engine knows how to say in both languages
    (e.g. "cart_empty", "out_of_stock", "not_found", "cancel_status"); ``message``
    is the service's own explanation, used when the code is not one of those;
    ``subject`` fills in the detail (a product title, an order status). ``action`` is
    the intent's class, which picks the feature handler that words the refusal.
    """

    action: type[Intent]
    code: str
    message: str = ""
    subject: str = ""
    stock: int | None = None  # "short_stock": what the SKU has left
    in_cart: int = 0  # "short_stock": how many of it the cart already holds


Event = (
    SceneBound
    | InviteCodeBound
    | DistributorApplied
    | InviteCodeShown
    | QrCodeShown
    | PosterRequested
    | TeamShown
    | EarningsShown
    | WithdrawalInfo
    | WithdrawalRequested
    | CategoriesListed
    | ProductsListed
    | ProductShown
    | CartShown
    | CheckoutReady
    | AddressChecked
    | OrderCreated
    | OrdersListed
    | OrderShown
    | OrderCancelled
    | RefundRequested
    | Failed
)
