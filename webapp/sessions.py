"""Cookie sessions only where a browser is on the other end."""
from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

# Machine-to-machine callbacks: WeChat's servers never carry our cookie, and
# building a signed-cookie session for every chat message is measurable work.
NO_SESSION_PREFIXES = ("/wechat",)


class BrowserOnlySessionInterface(SecureCookieSessionInterface):
    """The usual signed-cookie session, except on WeChat's server-to-server callbacks."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """A null (read-only, never saved) session on callback paths; the cookie elsewhere."""
        if request.path.startswith(NO_SESSION_PREFIXES):
            return self.make_null_session(app)
        return super().open_session(app, request)
