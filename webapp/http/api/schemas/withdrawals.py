"""Withdrawal schemas: a request, the operator's decisions and the withdrawal itself."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from commissions.withdrawals import CHANNELS, MAX_REASON, MAX_REFERENCE, STATUSES
from webapp.http.api.schemas.common import query_id_field, text_field


class WithdrawalRequestSchema(Schema):
    """Ask to withdraw part of the available balance (integer fen, never a float)."""

    # Range and balance are the service's to judge, so every refusal reads the same
    # whether it comes from the API or the chat.
    amount_fen = fields.Integer(strict=True, required=True,
                                metadata={"description": "amount in fen (1 yuan = 100)"})
    channel = fields.String(validate=validate.OneOf(CHANNELS), metadata={
        "description": "wechat (to WeChat change) or manual (bank transfer by the operator); "
                       "default wechat when the account has a WeChat openid"})


class WithdrawalSchema(Schema):
    """A withdrawal and where it stands (amounts in integer fen)."""

    id = fields.Integer()
    number = fields.String(metadata={"description": "also the WeChat partner_trade_no"})
    distributor_id = fields.Integer()
    amount_fen = fields.Integer()
    status = fields.String(metadata={"enum": list(STATUSES)})
    channel = fields.String(metadata={"enum": list(CHANNELS)})
    failure_reason = fields.String()
    reference = fields.String(metadata={"description": "WeChat payment number or bank reference"})
    requested_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    decided_by = fields.Integer(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    finished_by = fields.Integer(allow_none=True)


class OwnWithdrawalQuerySchema(Schema):
    """Filter of a distributor's own withdrawals."""

    status = fields.String(validate=validate.OneOf(STATUSES))


class WithdrawalQuerySchema(OwnWithdrawalQuerySchema):
    """Filters of the operator's list."""

    distributor_id = query_id_field()


class ReasonSchema(Schema):
    """Why a withdrawal is rejected or failed."""

    reason = text_field(1, MAX_REASON, required=True)


class PaymentReferenceSchema(Schema):
    """The bank's reference of a manual payout."""

    reference = text_field(1, MAX_REFERENCE, required=True)
