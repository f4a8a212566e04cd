"""Supplier settlement API: operators open and pay batches, suppliers read their own.

Every call goes through ``commissions.supplier_settlement``, which checks the
caller again; another supplier's batch is a 404, so ids reveal nothing.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from commissions import supplier_settlement as settlement
from core.models import Role
from webapp.extensions import db
from webapp.http.api.auth import current_actor, protected
from webapp.http.api.common import ChatShopBlueprint, paginate
from webapp.http.api.schemas.settlements import (
    OwnSettlementQuerySchema,
    SettlementPaymentSchema,
    SettlementQuerySchema,
    SupplierSettlementDetailSchema,
    SupplierSettlementSchema,
)

blp = ChatShopBlueprint(
    "settlements",
    __name__,
    url_prefix="/api/v1",
    description="Supplier settlement: batches of matured supply cost, payment, CSV statements",
)

_OPERATOR = "/operator/supplier-settlements"
_CSV_DOC = {"description": "the statement (UTF-8 with BOM, so spreadsheets read Chinese)"}


def _statement(settlement_id: int) -> Response:
    body = settlement.statement_csv(db.session, current_actor(), settlement_id)
    # The BOM makes Excel open UTF-8 (product titles are usually Chinese) correctly.
    return Response(
        body.encode("utf-8-sig"),
        mimetype="text/csv",
        headers={"Content-Disposition":
                 f'attachment; filename="supplier-settlement-{settlement_id}.csv"'},
    )


@blp.route(_OPERATOR)
class SupplierSettlements(MethodView):
    """Every supplier's batches."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(SettlementQuerySchema, location="query")
    @blp.response(200, SupplierSettlementSchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """Batches, newest first, optionally of one supplier or in one status."""
        stmt = settlement.settlements_query(current_actor(), args.get("supplier_id"),
                                           args.get("status"))
        return paginate(stmt, pagination_parameters)

    @protected(blp, Role.OPERATOR)
    @blp.response(200, SupplierSettlementSchema(many=True))
    def post(self) -> Any:
        """Open a batch for every supplier owed matured supply cost; the batches opened.

        A line is ready once its order completed and its return window passed. An
        empty list means nothing was ready (calling twice in a row opens nothing).
        """
        return settlement.open_settlements(db.session, current_actor())


@blp.route(f"{_OPERATOR}/<id:settlement_id>")
class SupplierSettlementDetail(MethodView):
    """One batch with its items."""

    @protected(blp, Role.OPERATOR)
    @blp.response(200, SupplierSettlementDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, settlement_id: int) -> Any:
        """The batch and what each order line contributed to it."""
        batch, lines = settlement.statement_lines(db.session, current_actor(), settlement_id)
        fields = SupplierSettlementSchema().fields
        return {**{name: getattr(batch, name) for name in fields},
                "items": [asdict(line) for line in lines]}


@blp.route(f"{_OPERATOR}/<id:settlement_id>/paid")
class SupplierSettlementPayment(MethodView):
    """Recording the payment of a batch."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(SettlementPaymentSchema)
    @blp.response(200, SupplierSettlementSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any], settlement_id: int) -> Any:
        """Mark an open batch paid (once: again is a 409); the ledger moves payable → paid."""
        return settlement.mark_paid(db.session, current_actor(), settlement_id,
                                    data["payment_reference"])


@blp.route(f"{_OPERATOR}/<id:settlement_id>/statement.csv")
class SupplierSettlementStatement(MethodView):
    """Any batch's statement."""

    @protected(blp, Role.OPERATOR)
    @blp.response(200, {"type": "string"}, content_type="text/csv", **_CSV_DOC)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, settlement_id: int) -> Any:
        """The batch as CSV: one row per order line, amounts in yuan, a total row."""
        return _statement(settlement_id)


@blp.route("/supplier/settlements")
class OwnSettlements(MethodView):
    """The caller's company's batches."""

    @protected(blp, Role.SUPPLIER)
    @blp.arguments(OwnSettlementQuerySchema, location="query")
    @blp.response(200, SupplierSettlementSchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """The caller's batches, newest first, optionally in one status."""
        actor = current_actor()
        actor.require_supplier()
        stmt = settlement.settlements_query(actor, actor.supplier_id, args.get("status"))
        return paginate(stmt, pagination_parameters)


@blp.route("/supplier/settlements/<id:settlement_id>/statement.csv")
class OwnSettlementStatement(MethodView):
    """A statement of one of the caller's batches."""

    @protected(blp, Role.SUPPLIER)
    @blp.response(200, {"type": "string"}, content_type="text/csv", **_CSV_DOC)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, settlement_id: int) -> Any:
        """The batch as CSV; another supplier's batch is a 404."""
        current_actor().require_supplier()
        return _statement(settlement_id)
