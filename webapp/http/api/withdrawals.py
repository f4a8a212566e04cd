"""Withdrawal API: distributors ask for and cancel withdrawals, operators decide and settle.

Every call goes through ``commissions.withdrawals`` (or ``commissions.payouts``
for approval, which queues the WeChat payout), which checks the caller again.
A distributor only ever sees their own withdrawals: another one's id is a 404.
"""
from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from commissions import payouts
from commissions import withdrawals as wd
from core.models import Role
from webapp.extensions import db
from webapp.http.api.auth import current_actor, protected
from webapp.http.api.common import ChatShopBlueprint, paginate
from webapp.http.api.schemas.withdrawals import (
    OwnWithdrawalQuerySchema,
    PaymentReferenceSchema,
    ReasonSchema,
    WithdrawalQuerySchema,
    WithdrawalRequestSchema,
    WithdrawalSchema,
)
from webapp.redis_conn import get_redis

blp = ChatShopBlueprint(
    "withdrawals",
    __name__,
    url_prefix="/api/v1",
    description="Withdrawals: distributors ask to be paid their available commission; "
                "operators approve, reject and record manual payouts",
)

_MINE = "/distributor/withdrawals"
_ALL = "/operator/withdrawals"


@blp.route(_MINE)
class MyWithdrawals(MethodView):
    """The caller's withdrawals."""

    @protected(blp)
    @blp.arguments(OwnWithdrawalQuerySchema, location="query")
    @blp.response(200, WithdrawalSchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """My withdrawals, newest first, optionally in one status."""
        stmt = wd.withdrawals_query(distributor_id=current_actor().user_id,
                                    status=args.get("status"))
        return paginate(stmt, pagination_parameters)

    @protected(blp)
    @blp.arguments(WithdrawalRequestSchema)
    @blp.response(201, WithdrawalSchema)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any]) -> Any:
        """Ask to withdraw ``amount_fen`` of my available balance (money is reserved at once).

        422: not a whole positive number of fen, or below the minimum
        (``WITHDRAWAL_MIN_FEN``); 403: not an active distributor (frozen and
        revoked distributors cannot withdraw); 409: more than is available, or
        the available balance is negative (a debt from refunds).
        """
        return wd.request_withdrawal(
            db.session, current_actor(), data["amount_fen"], channel=data.get("channel"),
            min_fen=int(current_app.config.get("WITHDRAWAL_MIN_FEN", wd.DEFAULT_MIN_FEN)),
        )


@blp.route(f"{_MINE}/<id:withdrawal_id>")
class MyWithdrawal(MethodView):
    """One of the caller's withdrawals."""

    @protected(blp)
    @blp.response(200, WithdrawalSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, withdrawal_id: int) -> Any:
        """Where my withdrawal stands."""
        return wd.get_withdrawal(db.session, current_actor(), withdrawal_id, own_only=True)


@blp.route(f"{_MINE}/<id:withdrawal_id>/cancel")
class MyWithdrawalCancel(MethodView):
    """Taking back a request."""

    @protected(blp)
    @blp.response(200, WithdrawalSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, withdrawal_id: int) -> Any:
        """Cancel my withdrawal while it is still ``requested``; the money is available again."""
        return wd.cancel_withdrawal(db.session, current_actor(), withdrawal_id)


@blp.route(_ALL)
class Withdrawals(MethodView):
    """Every distributor's withdrawals."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(WithdrawalQuerySchema, location="query")
    @blp.response(200, WithdrawalSchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """Withdrawals newest first, optionally in one status or of one distributor."""
        stmt = wd.withdrawals_query(distributor_id=args.get("distributor_id"),
                                    status=args.get("status"))
        return paginate(stmt, pagination_parameters)


@blp.route(f"{_ALL}/bank-export.csv")
class WithdrawalBankExport(MethodView):
    """Approved manual withdrawals for the bank."""

    @protected(blp, Role.OPERATOR)
    @blp.response(200, {"type": "string"}, content_type="text/csv",
                  description="approved manual withdrawals (UTF-8 with BOM)")
    def get(self) -> Any:
        """Approved ``manual`` withdrawals as CSV (number, distributor, amount in yuan)."""
        body = wd.bank_export_csv(db.session, current_actor())
        # The BOM makes Excel read the UTF-8 nicknames correctly.
        return Response(body.encode("utf-8-sig"), mimetype="text/csv", headers={
            "Content-Disposition": 'attachment; filename="withdrawals-bank-export.csv"'})


@blp.route(f"{_ALL}/<id:withdrawal_id>/approve")
class WithdrawalApproval(MethodView):
    """Approving a request."""

    @protected(blp, Role.OPERATOR)
    @blp.response(200, WithdrawalSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, withdrawal_id: int) -> Any:
        """Approve a ``requested`` withdrawal; a ``wechat`` one is then paid by a job."""
        return payouts.approve(db.session, current_actor(), withdrawal_id, get_redis())


@blp.route(f"{_ALL}/<id:withdrawal_id>/reject")
class WithdrawalRejection(MethodView):
    """Refusing a request."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(ReasonSchema)
    @blp.response(200, WithdrawalSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any], withdrawal_id: int) -> Any:
        """Reject a ``requested`` withdrawal with a reason; the money is available again."""
        return wd.reject_withdrawal(db.session, current_actor(), withdrawal_id, data["reason"])


@blp.route(f"{_ALL}/<id:withdrawal_id>/mark-paid")
class WithdrawalPaid(MethodView):
    """Recording a manual payout."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(PaymentReferenceSchema)
    @blp.response(200, WithdrawalSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any], withdrawal_id: int) -> Any:
        """Record that an approved ``manual`` withdrawal was paid (bank reference)."""
        return wd.mark_paid(db.session, current_actor(), withdrawal_id, data["reference"])


@blp.route(f"{_ALL}/<id:withdrawal_id>/mark-failed")
class WithdrawalFailed(MethodView):
    """Recording a failed manual payout."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(ReasonSchema)
    @blp.response(200, WithdrawalSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any], withdrawal_id: int) -> Any:
        """Record that an approved ``manual`` payout failed; the money is available again."""
        return wd.mark_failed(db.session, current_actor(), withdrawal_id, data["reason"])
