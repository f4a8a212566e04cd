"""A distributor's share link: ``<PUBLIC_BASE_URL>/r/<INVITE CODE>``.

Opening it in WeChat signs the visitor in (OAuth ``snsapi_base``) and binds
them under the distributor with source ``link`` (``webapp.http.h5``). The code
in the path is the invite code in its canonical form, so the same link can
also be typed in the chat.
"""
from __future__ import annotations

from urllib.parse import quote

from referral.domain.codes import normalise_invite_code

SHARE_PATH = "/r/"


def share_url(public_base_url: str, invite_code: str) -> str:
    """The share link of the distributor with ``invite_code`` (ValueError if it is not one)."""
    code = normalise_invite_code(invite_code)
    if code is None:
        raise ValueError(f"not an invite code: {invite_code!r}")
    base = (public_base_url or "").rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ValueError("public_base_url must be an absolute http(s) URL")
    return f"{base}{SHARE_PATH}{quote(code, safe='')}"
