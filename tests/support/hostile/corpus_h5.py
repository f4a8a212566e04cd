"""Hostile cases for the H5 pages (``/h5/...``) and distributors' share links (``/r/<code>``).

Refusals here are pages: 404 for an order that is not the visitor's (never saying
whether it exists) or an unknown invite code, 400 for a broken sign-in callback,
and, for a browser without a valid session, the redirect to WeChat's sign-in
(302 to the authorize page): nothing about any order is shown to it.
"""
from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from tests.support.hostile.support import INJECTIONS, REFUSED, SIGN_IN, Case, Req, World

H5 = "h5"
SHARE = "share"
RAW_SEGMENTS = {
    "lone-surrogate": "%ED%A0%80", "invalid-utf8": "%FF%FE", "nul": "%00",
    "too-long": "A" * 33, "very-long": "A" * 5000, "dot-dot": "..%2F..%2Fetc%2Fpasswd",
    "unknown": "CS00000000000000000000", "2**63": str(2**63),
}
SEGMENTS = {**{k: quote(v, safe="") for k, v in INJECTIONS.items()}, **RAW_SEGMENTS}
# A session cookie signed with some other key: the app must treat the browser as signed out.
FORGED_COOKIE = "session=eyJ3eF9vcGVuaWQiOiJvLWRlbW8teGlhb21pbmcifQ.ZmFrZQ.c2lnbmF0dXJlLWZha2U"


def _page(path: str, who: str | None, headers: dict[str, str] | None = None
          ) -> Callable[[World], Req]:
    def build(world: World) -> Req:
        openid = None if who is None else world.openids.get(who, who)
        return Req("GET", path.format(**world.numbers), openid=openid, headers=headers or {})
    return build


def h5_cases() -> list[Case]:
    """Pay and order pages with hostile order numbers, other people's orders, no session."""
    cases: list[Case] = []
    for page in ("pay", "orders"):
        for name, segment in SEGMENTS.items():
            cases.append(Case(H5, f"{page} {name}", _page(f"/h5/{page}/{segment}", "buyer")))
            # A segment holding "/" matches no page at all: a plain 404 before any sign-in.
            anonymous = REFUSED if "%2F" in segment else SIGN_IN
            cases.append(Case(H5, f"{page} {name} anonymous",
                              _page(f"/h5/{page}/{segment}", None), anonymous))
        for order in ("pending", "paid", "refunding"):
            cases.append(Case(H5, f"{page} someone-elses-{order}-order",
                              _page(f"/h5/{page}/{{{order}}}", "other")))
            cases.append(Case(H5, f"{page} {order}-order unknown-openid",
                              _page(f"/h5/{page}/{{{order}}}", "o-ghost-user")))
            cases.append(Case(H5, f"{page} {order}-order forged-cookie",
                              _page(f"/h5/{page}/{{{order}}}", None,
                                    {"Cookie": FORGED_COOKIE}), SIGN_IN))
    cases.append(Case(H5, "order-list forged-cookie",
                      _page("/h5/orders", None, {"Cookie": FORGED_COOKIE}), SIGN_IN))
    callback = "/h5/oauth/callback"
    for name, query in {
        "no-state": "code=abc", "no-code": "state=abc", "empty": "",
        "state-forged": "code=abc&state=1700000000.deadbeef",
        "state-lone-surrogate": "code=abc&state=%ED%A0%80",
        "code-too-long": "state=x&code=" + "c" * 600,
        **{f"state-{k}": "code=abc&state=" + quote(v, safe="") for k, v in INJECTIONS.items()},
    }.items():
        cases.append(Case(H5, f"oauth-callback {name}",
                          lambda w, q=query: Req("GET", callback, query=q), REFUSED))
    return cases


def share_cases() -> list[Case]:
    """Share links with hostile or unknown invite codes, signed in or not."""
    cases: list[Case] = []
    codes = {**SEGMENTS, "unknown-code": "ZZZZ9999", "code-with-spaces": "HANM%20M888X"}
    for name, segment in codes.items():
        cases.append(Case(SHARE, f"{name} anonymous", _page(f"/r/{segment}", None)))
        cases.append(Case(SHARE, f"{name} signed-in", _page(f"/r/{segment}", "other")))
    return cases


def cases() -> list[Case]:
    """Every H5 and share-link case."""
    return h5_cases() + share_cases()
