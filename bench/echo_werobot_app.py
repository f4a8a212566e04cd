"""WeRoBot's echo robot for bench/webhook.py, as a WSGI app for gunicorn.

Configured as WeRoBot's documentation shows: a token and a text handler that
returns the message's content. The session storage is left at its default
(SQLiteStorage, ``werobot_session.sqlite3`` in the working directory), which
WeRoBot reads and writes on every message; the benchmark runs it in a temporary
directory.
"""
from __future__ import annotations

import os

import werobot

robot = werobot.WeRoBot(token=os.environ.get("WECHAT_TOKEN", "chatshop-dev-token"))


@robot.text
def echo(message):  # type: ignore[no-untyped-def]
    """Answer a text message with its own content."""
    return message.content


app = robot.wsgi
