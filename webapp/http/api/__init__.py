"""REST API under /api/v1 (flask-smorest on marshmallow)."""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def create_api(app: Flask) -> Api:
    """One Api per app (tests build many apps); registers every resource blueprint."""
    from webapp.http.api import (
        buyer,
        catalogue,
        operator,
        payments,
        referral,
        referral_operator,
        supplier,
    )
    from webapp.http.api.auth import register_security_scheme
    from webapp.http.api.common import ChatShopApi, register_id_converter

    api = ChatShopApi(app)
    register_security_scheme(api)
    register_id_converter(app, api)
    for module in (catalogue, buyer, supplier, operator, payments, referral, referral_operator):
        api.register_blueprint(module.blp)
    from webapp.http.api import settlements  # supplier settlement batches
    api.register_blueprint(settlements.blp)
    from webapp.http.api import commission_plans, earnings, reports, withdrawals  # money
    for money in (earnings, reports, commission_plans, withdrawals):
        api.register_blueprint(money.blp)
    app.extensions["chatshop.api"] = api
    return api
