"""What a job takes from the app it runs in, without importing the web application.

Jobs run only under ``chatshop worker``, whose runner pushes the app's context
around every job (tests push one themselves). Outside an app context these
raise Flask's "Working outside of application context".
"""
from __future__ import annotations

from typing import cast

import redis
from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy

from adapters.wechat.pay_v2 import PayGateway, kept_gateway
from core.redis import shared_client
from core.settings import Settings, settings_in
from core.uow import DbSession


def current() -> Flask:
    """The app whose context the job runs in."""
    return cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]


def database() -> SQLAlchemy:
    """The app's Flask-SQLAlchemy extension (engine and scoped session)."""
    return cast(SQLAlchemy, current_app.extensions["sqlalchemy"])


def db_session() -> DbSession:
    """The app's database session for this job (removed when the app context ends)."""
    return database().session


def redis_client() -> redis.Redis:
    """The app's shared fail-fast Redis client."""
    return shared_client(current_app.extensions)


def settings() -> Settings:
    """The app's typed settings (built by the factory)."""
    return settings_in(current_app.extensions)


def pay_gateway() -> PayGateway:
    """The app's WeChat Pay gateway (one per app; tests may put a fake in its place)."""
    return kept_gateway(current_app.extensions, settings())
