"""ORM models; importing this package registers every table on ``db.metadata``."""
from webapp.models.catalogue import Category, Product, ProductStatus, Sku, Supplier
from webapp.models.events import AuditEntry, OutboxMessage
from webapp.models.ledger import (
    CommissionLine,
    CommissionPlanVersion,
    CommissionStatus,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    LineSplit,
    SupplierSettlement,
    SupplierSettlementItem,
    Withdrawal,
    WithdrawalStatus,
)
from webapp.models.orders import CartItem, Order, OrderLine, OrderStatus, Shipment
from webapp.models.payments import Payment, PaymentStatus, Refund, RefundLine, RefundStatus
from webapp.models.referral import (
    Distributor,
    DistributorTier,
    OrderReferral,
    ReferralBinding,
    ReferralSettings,
)
from webapp.models.users import Address, ApiToken, Role, User, UserRole

__all__ = [
    "Address",
    "ApiToken",
    "AuditEntry",
    "CartItem",
    "Category",
    "CommissionLine",
    "CommissionPlanVersion",
    "CommissionStatus",
    "Distributor",
    "DistributorTier",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "LineSplit",
    "Order",
    "OrderLine",
    "OrderReferral",
    "OrderStatus",
    "OutboxMessage",
    "Payment",
    "PaymentStatus",
    "Product",
    "ProductStatus",
    "ReferralBinding",
    "ReferralSettings",
    "Refund",
    "RefundLine",
    "RefundStatus",
    "Role",
    "Shipment",
    "Sku",
    "Supplier",
    "SupplierSettlement",
    "SupplierSettlementItem",
    "User",
    "UserRole",
    "Withdrawal",
    "WithdrawalStatus",
]
