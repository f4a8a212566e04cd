"""ORM models; importing this package registers every table on ``core.db.Base.metadata``."""
from core.models.catalogue import Category, Product, ProductStatus, Sku, Supplier
from core.models.events import AuditEntry, OutboxMessage
from core.models.ledger import (
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
from core.models.orders import CartItem, Order, OrderLine, OrderStatus, Shipment
from core.models.payments import Payment, PaymentStatus, Refund, RefundLine, RefundStatus
from core.models.referral import (
    Distributor,
    DistributorTier,
    OrderReferral,
    ReferralBinding,
    ReferralSettings,
)
from core.models.users import Address, ApiToken, Role, User, UserRole

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
