"""WeChat's server signature: sha1 of the sorted, concatenated parts, compared in constant time."""
from __future__ import annotations

import hashlib
import hmac


def sign(*parts: str) -> str:
    """sha1 hex of the parts sorted and joined (the URL signature and ``msg_signature``)."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature_matches(expected: str, given: str) -> bool:
    """Constant-time comparison that also accepts non-ASCII input without raising."""
    # compare_digest refuses non-ASCII str, so compare bytes; "replace" keeps hostile
    # lone surrogates from raising.
    return hmac.compare_digest(
        expected.encode("utf-8", "replace"), given.encode("utf-8", "replace")
    )
