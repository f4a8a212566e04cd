"""Who is asking: a plain value the services authorise against."""
from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import Forbidden
from core.models import Role, User


@dataclass(frozen=True)
class Actor:
    """The caller of a service: a user id, their roles and, for suppliers, the supplier."""

    user_id: int
    roles: frozenset[str] = field(default_factory=frozenset)
    supplier_id: int | None = None

    @classmethod
    def of(cls, user: User) -> Actor:
        """Actor for a loaded user."""
        return cls(user.id, frozenset(user.role_names), user.supplier_id)

    def is_operator(self) -> bool:
        """True for platform operators."""
        return Role.OPERATOR in self.roles

    def require(self, *roles: Role) -> None:
        """Refuse unless the actor holds one of ``roles``."""
        if not any(str(r) in self.roles for r in roles):
            raise Forbidden("this needs the role: " + " or ".join(str(r) for r in roles))

    def require_supplier(self) -> int:
        """The actor's supplier id; refuse if the actor is not supplier staff."""
        if Role.SUPPLIER not in self.roles or self.supplier_id is None:
            raise Forbidden("this needs a supplier account")
        return self.supplier_id
