"""The floor for bench/checkout.py: a WSGI app whose only endpoint inserts one row.

It runs under the same gunicorn settings, on the same PostgreSQL, through the
same SQLAlchemy engine options as ChatShop, so the ratio between the two says
how much ChatShop's own work costs on top of "an HTTP request that writes".
"""
from __future__ import annotations

import os

from sqlalchemy import create_engine, text

from core.settings import engine_options

_url = os.environ["DATABASE_URL"]
_engine = create_engine(_url, **engine_options(_url))


def app(environ, start_response):  # type: ignore[no-untyped-def]
    """POST /bare inserts one row; anything else is 404."""
    if environ.get("PATH_INFO") != "/bare" or environ.get("REQUEST_METHOD") != "POST":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    with _engine.begin() as conn:
        conn.execute(text("INSERT INTO bench_bare (payload) VALUES (:p)"), {"p": body.decode()})
    start_response("201 Created", [("Content-Type", "application/json")])
    return [b'{"ok": true}']
