"""The signed query string of every webhook request, checked before the body is looked at."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from adapters.wechat.messages.signature import sign, signature_matches

MAX_PARAM = 128
MAX_TIMESTAMP_DIGITS = 12


class Refused(Exception):
    """A request we do not process: ``status`` is the HTTP answer, ``reason`` is for the log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class SignedQuery:
    """The verified query parameters of one request."""

    timestamp: str
    nonce: str
    encrypted: bool
    msg_signature: str = ""


def _param(args: Mapping[str, str], name: str, *, required: bool = True) -> str:
    value = args.get(name) or ""
    if required and not value:
        raise Refused(400, f"missing {name}")
    if len(value) > MAX_PARAM or not value.isprintable():
        raise Refused(400, f"malformed {name}")
    return value


def check_query(
    args: Mapping[str, str], *, token: str, now: float, window: float, post: bool
) -> SignedQuery:
    """Verify signature, timestamp window and mode; raise :class:`Refused` (400/403) if wrong.

    GET (URL verification) and plaintext POSTs carry ``signature``; encrypted POSTs
    (``encrypt_type=aes``) must carry ``msg_signature``, checked later against the
    body's ``Encrypt``, and their ``signature`` is checked when present (WeChat sends both).
    """
    timestamp = _param(args, "timestamp")
    nonce = _param(args, "nonce")
    encrypt_type = (args.get("encrypt_type") or "raw").lower() if post else "raw"
    if encrypt_type not in ("raw", "aes"):
        raise Refused(400, "unknown encrypt_type")
    encrypted = encrypt_type == "aes"
    signature = _param(args, "signature", required=not encrypted)
    msg_signature = _param(args, "msg_signature") if encrypted else ""
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > MAX_TIMESTAMP_DIGITS:
        raise Refused(400, "malformed timestamp")
    if signature and not signature_matches(sign(token, timestamp, nonce), signature):
        raise Refused(403, "signature mismatch")
    # Checked after the signature so that a forged request learns nothing about the clock.
    if abs(now - int(timestamp)) > window:
        raise Refused(403, "timestamp outside the replay window")
    return SignedQuery(timestamp, nonce, encrypted, msg_signature)
