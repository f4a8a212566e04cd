"""What the engine asks the shop to do; the storefront's executor carries each one out.

Intents hold plain values only. Every intent is answered by exactly one event
(:mod:`bots.dialogue.events`), which the engine then renders.
"""
from __future__ import annotations

from dataclasses import dataclass

PAGE_SIZE = 5  # items per numbered list page: short enough to read on a phone


@dataclass(frozen=True)
class BindScene:
    """Bind the user under the distributor a scanned QR scene names (SceneBound).

    ``scene`` is the EventKey as WeChat sent it ("qrscene_dist_42" on subscribe,
    "dist_42" on SCAN); ``returning`` (a follower scanning) is echoed back.
    """

    scene: str
    returning: bool = False


@dataclass(frozen=True)
class BindInviteCode:
    """Bind the user under the distributor whose invite code they typed (InviteCodeBound)."""

    code: str  # already in canonical form


@dataclass(frozen=True)
class ApplyDistributor:
    """Apply to become a distributor (DistributorApplied)."""


@dataclass(frozen=True)
class ShowInviteCode:
    """The distributor's own invite code and share link (InviteCodeShown)."""


@dataclass(frozen=True)
class ShowQrCode:
    """The distributor's own referral QR code (QrCodeShown)."""


@dataclass(frozen=True)
class RequestPoster:
    """Have the distributor's poster made and sent later (PosterRequested)."""


@dataclass(frozen=True)
class ShowTeam:
    """The distributor's team and this month's sales by level (TeamShown)."""


@dataclass(frozen=True)
class ShowEarnings:
    """The distributor's balances and latest commission lines (EarningsShown)."""


@dataclass(frozen=True)
class ShowWithdrawal:
    """What the distributor could withdraw and how to ask (WithdrawalInfo)."""


@dataclass(frozen=True)
class RequestWithdrawal:
    """Withdraw ``amount_fen`` of the available balance to WeChat change (WithdrawalRequested)."""

    amount_fen: int


@dataclass(frozen=True)
class ShowCategories:
    """List the shop's categories (CategoriesListed)."""


@dataclass(frozen=True)
class ShowProducts:
    """One page of a category's products (ProductsListed)."""

    category_id: int
    page: int = 1
    per_page: int = PAGE_SIZE


@dataclass(frozen=True)
class SearchProducts:
    """One page of products matching a keyword (ProductsListed)."""

    query: str
    page: int = 1
    per_page: int = PAGE_SIZE


@dataclass(frozen=True)
class ShowProduct:
    """A product's details and SKUs (ProductShown)."""

    product_id: int


@dataclass(frozen=True)
class AddToCart:
    """Add a quantity of a SKU to the cart (CartShown)."""

    sku_id: int
    quantity: int


@dataclass(frozen=True)
class ShowCart:
    """The cart (CartShown)."""


@dataclass(frozen=True)
class SetCartQuantity:
    """Set a cart line's quantity; 0 removes it (CartShown)."""

    sku_id: int
    quantity: int


@dataclass(frozen=True)
class ClearCart:
    """Empty the cart (CartShown)."""


@dataclass(frozen=True)
class StartCheckout:
    """The cart's total and the buyer's saved addresses (CheckoutReady)."""


@dataclass(frozen=True)
class CheckAddress:
    """Validate one field of an address typed in the chat (AddressChecked).

    Fields not typed yet are empty; only ``field`` is judged.
    """

    field: str  # "recipient", "phone" or "detail"
    recipient: str = ""
    phone: str = ""
    detail: str = ""


@dataclass(frozen=True)
class ConfirmOrder:
    """Create the order from the cart, once per ``token`` (OrderCreated).

    The address is a saved one (``address_id``) or typed in the chat (inline);
    ``save_address`` keeps a typed one for next time, once the order is placed.
    """

    token: str
    address_id: int | None = None
    recipient: str = ""
    phone: str = ""
    detail: str = ""
    save_address: bool = False


@dataclass(frozen=True)
class ShowOrders:
    """One page of the buyer's orders (OrdersListed); ``purpose`` picks the footer hint."""

    page: int = 1
    per_page: int = PAGE_SIZE
    purpose: str = "list"  # "list", "refund" or "cancel"


@dataclass(frozen=True)
class ShowOrder:
    """One of the buyer's orders (OrderShown)."""

    number: str


@dataclass(frozen=True)
class CancelOrder:
    """Cancel one of the buyer's unpaid orders (OrderCancelled)."""

    number: str


@dataclass(frozen=True)
class RequestRefund:
    """Ask for a full refund of one of the buyer's orders (RefundRequested)."""

    number: str
    reason: str


Intent = (
    BindScene
    | BindInviteCode
    | ApplyDistributor
    | ShowInviteCode
    | ShowQrCode
    | RequestPoster
    | ShowTeam
    | ShowEarnings
    | ShowWithdrawal
    | RequestWithdrawal
    | ShowCategories
    | ShowProducts
    | SearchProducts
    | ShowProduct
    | AddToCart
    | ShowCart
    | SetCartQuantity
    | ClearCart
    | StartCheckout
    | CheckAddress
    | ConfirmOrder
    | ShowOrders
    | ShowOrder
    | CancelOrder
    | RequestRefund
)
