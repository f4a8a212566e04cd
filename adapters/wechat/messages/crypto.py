"""Safe and compatible mode: the AES envelope, through wechatpy's ``WeChatCrypto``.

After an EncodingAESKey change WeChat may still send messages under the old key
for a while, so the previous key is tried when the current one fails, and the
reply is encrypted with whichever key opened the request.
"""
from __future__ import annotations

import base64
import binascii
import logging
import secrets
import time
from dataclasses import dataclass

from wechatpy.crypto import WeChatCrypto

from adapters.wechat.messages.protocol import Refused

log = logging.getLogger(__name__)

AES_KEY_LENGTH = 43


def valid_aes_key(key: str) -> bool:
    """True for a 43-character EncodingAESKey that decodes to 32 bytes."""
    if len(key) != AES_KEY_LENGTH:
        return False
    try:
        return len(base64.b64decode(key + "=", validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


@dataclass(frozen=True)
class Opened:
    """A decrypted request: its inner XML and the crypto that opened it (for the reply)."""

    xml: str
    crypto: WeChatCrypto


class AesKeys:
    """The account's EncodingAESKeys, current first, then the previous one as a fallback."""

    def __init__(self, token: str, app_id: str, current: str, previous: str = "") -> None:
        self._cryptos: list[WeChatCrypto] = []
        for name, key in (("current", current), ("previous", previous)):
            if not key:
                continue
            if not valid_aes_key(key):
                # A broken key is a deployment mistake: say so, and run without it.
                log.error("the %s EncodingAESKey is not a valid 43-character key; ignored", name)
                continue
            self._cryptos.append(WeChatCrypto(token, key, app_id))

    @property
    def enabled(self) -> bool:
        """True when at least one usable key is configured."""
        return bool(self._cryptos)

    def open(self, encrypt: str, msg_signature: str, timestamp: str, nonce: str) -> Opened:
        """Decrypt ``encrypt`` (its msg_signature already verified); raise Refused(400) if no
        key opens it or it was sealed for another app id."""
        for crypto in self._cryptos:
            try:
                xml = crypto.decrypt_message(
                    {"Encrypt": encrypt}, msg_signature, timestamp, nonce
                )
            except Exception:  # noqa: BLE001 - base64, padding, struct, app id, UTF-8 all raise
                continue
            return Opened(xml, crypto)
        raise Refused(400, "Encrypt cannot be decrypted with the configured keys")


def seal(crypto: WeChatCrypto, xml: str) -> str:
    """The encrypted reply envelope for ``xml``, signed with a fresh nonce of our own."""
    # Our own nonce: the request's would be copied unescaped into wechatpy's CDATA.
    nonce = str(secrets.randbelow(10**10)).zfill(10)
    return str(crypto.encrypt_message(xml, nonce, str(int(time.time()))))
