"""REST API under /api/v1 (flask-smorest on marshmallow)."""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from webapp.http.api import (
    buyer,
    catalogue,
    commission_plans,
    earnings,
    operator,
    payments,
    referral,
    referral_operator,
    reports,
    settlements,
    supplier,
    withdrawals,
)
from webapp.http.api.auth import register_security_scheme
from webapp.http.api.common import ChatShopApi, register_id_converter

# Registered in this order (it is the order of the OpenAPI document's tags).
RESOURCES = (catalogue, buyer, supplier, operator, payments, referral, referral_operator,
             settlements, earnings, reports, commission_plans, withdrawals)


def create_api(app: Flask) -> Api:
    """One Api per app (tests build many apps); registers every resource blueprint."""
    api = ChatShopApi(app)
    register_security_scheme(api)
    register_id_converter(app, api)
    for module in RESOURCES:
        api.register_blueprint(module.blp)
    app.extensions["chatshop.api"] = api
    return api
