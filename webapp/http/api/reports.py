"""Operator reports: platform P&L, commissions by level, top distributors, supplier payables.

Every report is JSON at ``/api/v1/operator/reports/<name>`` and CSV either with
``?format=csv`` or at ``<name>.csv`` (the same query otherwise). The P&L, the
levels and the top distributors cover the orders paid in ``[since, until)``
with their refunds so far; supplier payables are ledger balances at ``since``
and ``until`` (see ``commissions.reports``). Amounts are integer fen in JSON;
CSV gives each as yuan text and as fen.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from flask import Response
from flask.views import MethodView

from commissions import reports
from commissions.reports import Period
from core.models import Role
from webapp.extensions import db
from webapp.http.api.auth import protected
from webapp.http.api.common import ChatShopBlueprint
from webapp.http.api.schemas.reports import (
    CommissionsByLevelSchema,
    PlatformPnlSchema,
    ReportPeriodSchema,
    ReportQuerySchema,
    SupplierPayablesSchema,
    TopDistributorsPeriodSchema,
    TopDistributorsQuerySchema,
    TopDistributorsSchema,
)

blp = ChatShopBlueprint(
    "reports",
    __name__,
    url_prefix="/api/v1/operator/reports",
    description="Operators: P&L, commissions by level, top distributors, supplier payables; CSV",
)

_CSV = "CSV: a header line, then one row per record; amounts as <name>_yuan and <name>_fen"


def _period(args: dict[str, Any]) -> Period:
    return Period(args.get("since"), args.get("until"))


def _stamp(moment: datetime | None) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ") if moment is not None else "open"


def _csv(name: str, period: Period, kind: type[Any], rows: Sequence[Any]) -> Response:
    text = reports.to_csv(kind, rows, prefix=[("since", period.since), ("until", period.until)])
    filename = f"{name}_{_stamp(period.since)}_{_stamp(period.until)}.csv"
    # A byte-order mark, or spreadsheet programs set to GBK garble Chinese names.
    return Response(("\ufeff" + text).encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# Each report: (JSON body, row dataclass, rows for CSV) from the query's arguments.
Built = tuple[dict[str, Any], type[Any], Sequence[Any]]


def _pnl(period: Period, args: dict[str, Any]) -> Built:
    pnl = reports.platform_pnl(db.session, period)
    return asdict(pnl), reports.PlatformPnl, [pnl]


def _levels(period: Period, args: dict[str, Any]) -> Built:
    rows = reports.commissions_by_level(db.session, period)
    return {"levels": [asdict(row) for row in rows]}, reports.LevelTotal, rows


def _top(period: Period, args: dict[str, Any]) -> Built:
    rows = reports.top_distributors(db.session, period, args["limit"])
    return {"distributors": [asdict(row) for row in rows]}, reports.TopDistributor, rows


def _payables(period: Period, args: dict[str, Any]) -> Built:
    rows = reports.supplier_payables(db.session, period)
    return {"suppliers": [asdict(row) for row in rows]}, reports.SupplierPayable, rows


def _answer(name: str, args: dict[str, Any], build: Callable[[Period, dict[str, Any]], Built],
            as_csv: bool = False) -> Any:
    period = _period(args)
    body, kind, rows = build(period, args)
    if as_csv or args.get("format") == "csv":
        return _csv(name, period, kind, rows)
    return {"since": period.since, "until": period.until, **body}


@blp.route("/pnl")
class PlatformPnl(MethodView):
    """The platform's P&L."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(ReportQuerySchema, location="query")
    @blp.response(200, PlatformPnlSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Gross paid, refunds, supplier cost, commissions net of reversals, platform revenue.

        For the orders paid in ``[since, until)``, with their refunds so far;
        ``?format=csv`` for a CSV download.
        """
        return _answer("pnl", args, _pnl)


@blp.route("/pnl.csv")
class PlatformPnlCsv(MethodView):
    """The platform's P&L as CSV."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(ReportPeriodSchema, location="query")
    @blp.response(200, {"type": "string"}, content_type="text/csv", description=_CSV)
    def get(self, args: dict[str, Any]) -> Any:
        """The P&L as one CSV row."""
        return _answer("pnl", args, _pnl, as_csv=True)


@blp.route("/commissions-by-level")
class CommissionsByLevel(MethodView):
    """Commission totals per level."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(ReportQuerySchema, location="query")
    @blp.response(200, CommissionsByLevelSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Lines, distributors, gross, reversed, net (pending and settled) per level."""
        return _answer("commissions_by_level", args, _levels)


@blp.route("/commissions-by-level.csv")
class CommissionsByLevelCsv(MethodView):
    """Commission totals per level as CSV."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(ReportPeriodSchema, location="query")
    @blp.response(200, {"type": "string"}, content_type="text/csv", description=_CSV)
    def get(self, args: dict[str, Any]) -> Any:
        """One CSV row per level."""
        return _answer("commissions_by_level", args, _levels, as_csv=True)


@blp.route("/top-distributors")
class TopDistributors(MethodView):
    """The distributors earning most."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(TopDistributorsQuerySchema, location="query")
    @blp.response(200, TopDistributorsSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """The ``limit`` (10; at most 100) distributors with the most net commission."""
        return _answer("top_distributors", args, _top)


@blp.route("/top-distributors.csv")
class TopDistributorsCsv(MethodView):
    """The distributors earning most, as CSV."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(TopDistributorsPeriodSchema, location="query")
    @blp.response(200, {"type": "string"}, content_type="text/csv", description=_CSV)
    def get(self, args: dict[str, Any]) -> Any:
        """One CSV row per distributor, best first."""
        return _answer("top_distributors", args, _top, as_csv=True)


@blp.route("/supplier-payables")
class SupplierPayables(MethodView):
    """What the platform owes each supplier."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(ReportQuerySchema, location="query")
    @blp.response(200, SupplierPayablesSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Each supplier's payable at ``since``, posted during the period, at ``until``."""
        return _answer("supplier_payables", args, _payables)


@blp.route("/supplier-payables.csv")
class SupplierPayablesCsv(MethodView):
    """Supplier payables as CSV."""

    @protected(blp, Role.OPERATOR)
    @blp.arguments(ReportPeriodSchema, location="query")
    @blp.response(200, {"type": "string"}, content_type="text/csv", description=_CSV)
    def get(self, args: dict[str, Any]) -> Any:
        """One CSV row per supplier, largest balance first."""
        return _answer("supplier_payables", args, _payables, as_csv=True)
