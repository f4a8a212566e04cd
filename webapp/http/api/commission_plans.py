"""Operator commission plan API: the plan in force, its history, saving a new version.

Saving goes through ``commissions.plan_store.save_plan``, which checks the
operator role again, validates the rules (every problem listed, 422), adds
version n + 1 and writes the audit row. Orders already paid keep the version
they were split by; only orders paid from then on use the new one.
"""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from sqlalchemy import func, select

from commissions.plan_store import active_plan, rules_of, save_plan
from core.models import CommissionPlanVersion, Role
from webapp.extensions import db
from webapp.http.api.auth import current_actor, protected
from webapp.http.api.common import ChatShopBlueprint
from webapp.http.api.schemas.commission_plans import PlanVersionCreateSchema, PlanVersionSchema

blp = ChatShopBlueprint(
    "commission_plans",
    __name__,
    url_prefix="/api/v1/operator",
    description="Operators: the commission plan, its versions, saving a new version",
)


def version_view(row: CommissionPlanVersion) -> dict[str, Any]:
    """A stored plan version for :class:`PlanVersionSchema`."""
    return {"version_id": row.id, "version": row.version, "is_default": False,
            "rules": row.rules, "note": row.note, "created_at": row.created_at,
            "created_by": row.created_by}


@blp.route("/commission-plan")
class CommissionPlan(MethodView):
    """The plan in force."""

    @protected(blp, Role.OPERATOR)
    @blp.response(200, PlanVersionSchema)
    def get(self) -> Any:
        """The newest saved version; the built-in default (version 0) until one is saved."""
        active = active_plan(db.session)
        if active.version_id is None:
            return {"version_id": None, "version": 0, "is_default": True,
                    "rules": rules_of(active.plan), "note": "built-in default",
                    "created_at": None, "created_by": None}
        row = db.session.get(CommissionPlanVersion, active.version_id)
        assert row is not None  # active_plan just read it
        return version_view(row)


@blp.route("/commission-plan/versions")
class CommissionPlanVersions(MethodView):
    """Every saved version of the plan."""

    @protected(blp, Role.OPERATOR)
    @blp.response(200, PlanVersionSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters) -> Any:
        """Saved versions, newest first (the built-in default is not listed)."""
        total = int(db.session.scalar(select(func.count(CommissionPlanVersion.id))) or 0)
        pagination_parameters.item_count = total
        if pagination_parameters.first_item >= total:  # keeps absurd pages off the database
            return []
        rows = db.session.scalars(
            select(CommissionPlanVersion).order_by(CommissionPlanVersion.version.desc())
            .offset(pagination_parameters.first_item).limit(pagination_parameters.page_size)
        ).all()
        return [version_view(row) for row in rows]

    @protected(blp, Role.OPERATOR)
    @blp.arguments(PlanVersionCreateSchema)
    @blp.response(201, PlanVersionSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, data: dict[str, Any]) -> Any:
        """Save a new version (n + 1) of the plan; audited.

        422 lists every problem of the rules at once (``errors.problems``):
        rates that are negative, not whole basis points or over 10 000, a rate
        count that is not the level count, more than 3 levels (3 only with
        ``three_levels_acknowledged``), rates that can add up to more than the
        cap, unknown settings. 409 when another version was saved at the same moment.
        """
        row = save_plan(db.session, current_actor(), data["rules"], data["note"])
        return version_view(row)
