"""REST API under /api/v1 (flask-smorest on marshmallow)."""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def create_api(app: Flask) -> Api:
    """One Api per app (tests build many apps); registers every resource blueprint."""
    api = Api(app)
    app.extensions["chatshop.api"] = api
    return api
