"""Distributor earnings API: my summary and my statement lines.

Like the team views (``referral.py``), these need the caller's own
distributor record, not just the role. A revoked distributor keeps access:
revoking stops new earnings, but money already owed to them, or a debt they
owe, is still theirs to see. Applicants (pending, rejected) never earned
anything and get a 403. There is no way to name another distributor here.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask.views import MethodView
from flask_smorest import abort
from flask_smorest.pagination import PaginationParameters

from commissions import earnings
from referral import distributors
from webapp.extensions import db
from webapp.http.api.auth import current_actor, protected
from webapp.http.api.common import ChatShopBlueprint
from webapp.http.api.schemas.earnings import EarningsSummarySchema, StatementLineSchema

blp = ChatShopBlueprint(
    "earnings",
    __name__,
    url_prefix="/api/v1/distributor",
    description="Distributors: my earnings (pending, available, withdrawn, debt) and statement",
)



def _my_distributor_id() -> int:
    """The caller's user id when they have an approved distributor record (else 403)."""
    user_id = current_actor().user_id
    record = distributors.distributor_of(db.session, user_id)
    if record is None or record.status not in earnings.EARNINGS_STATUSES:
        abort(403, message="this needs a distributor account")
    return user_id


@blp.route("/earnings")
class MyEarnings(MethodView):
    """The caller's earnings summary."""

    @protected(blp)
    @blp.response(200, EarningsSummarySchema)
    @blp.alt_response(403, response="FORBIDDEN")
    def get(self) -> Any:
        """Pending, available, withdrawing, withdrawn and debt, in fen, from the ledger.

        A debt (refunds after settlement took back more than was available)
        shows as ``debt_fen`` with ``available_fen`` 0.
        """
        return asdict(earnings.earnings_summary(db.session, _my_distributor_id()))


@blp.route("/earnings/lines")
class MyStatement(MethodView):
    """The caller's commission and clawback lines."""

    @protected(blp)
    @blp.response(200, StatementLineSchema(many=True))
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters) -> Any:
        """My commission lines and clawbacks, newest first (``page``, ``page_size``)."""
        total, lines = earnings.statement(
            db.session, _my_distributor_id(), offset=pagination_parameters.first_item,
            limit=pagination_parameters.page_size,
        )
        pagination_parameters.item_count = total
        return [asdict(line) for line in lines]
