"""Cookie sessions only where a browser is on the other end, and only for a limited time."""
from __future__ import annotations

import time

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

from core.settings import h5_session_days

# Machine-to-machine callbacks: WeChat's servers never carry our cookie, and
# building a signed-cookie session for every chat message is measurable work.
NO_SESSION_PREFIXES = ("/wechat",)
# When the session was first written (Unix seconds), stored inside the signed cookie.
ISSUED_AT = "_iat"
# A session dated this far in the future (clock skew between web machines) is still fine.
CLOCK_SKEW_SECONDS = 300


class BrowserOnlySessionInterface(SecureCookieSessionInterface):
    """The usual signed-cookie session, except on WeChat's server-to-server callbacks.

    Every session records when it was first written; once older than
    ``H5_SESSION_DAYS`` it is read as no session at all (the H5 pages then sign
    the user in again through WeChat OAuth). Flask's own check on the signature's
    age (PERMANENT_SESSION_LIFETIME, set to the same number of days) is a second
    fence. The cookie is signed with SECRET_KEY, so changing it ends every session.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """A null (read-only, never saved) session on callback paths; the cookie elsewhere."""
        if request.path.startswith(NO_SESSION_PREFIXES):
            return self.make_null_session(app)
        session = super().open_session(app, request)
        if session and not self._still_valid(app, session):
            # Expired or without a date (older than this rule, or not ours): start afresh.
            return self.session_class()
        return session

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Date a session the first time it is written, then save it as usual."""
        if session and ISSUED_AT not in session:
            session[ISSUED_AT] = int(self.now())
        super().save_session(app, session, response)

    def now(self) -> float:
        """The current Unix time (a method, so tests can move the clock)."""
        return time.time()

    def _still_valid(self, app: Flask, session: SessionMixin) -> bool:
        issued = session.get(ISSUED_AT)
        if isinstance(issued, bool) or not isinstance(issued, int):
            return False
        now = self.now()
        lifetime = h5_session_days(app.config) * 86400
        return now - lifetime <= issued <= now + CLOCK_SKEW_SECONDS
