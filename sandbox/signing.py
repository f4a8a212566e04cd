"""WeChat Pay v2 wire format: signatures, XML in and out, refund-notify encryption.

Pure functions, no Flask: the sandbox uses them to check what the app sends and
to sign what it answers, and tests check them against WeChat's published vectors.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Mapping
from xml.parsers.expat import ExpatError

import xmltodict
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SIGN_TYPE_MD5 = "MD5"
SIGN_TYPE_HMAC_SHA256 = "HMAC-SHA256"
SIGN_TYPES = (SIGN_TYPE_MD5, SIGN_TYPE_HMAC_SHA256)

_NONCE_ALPHABET = string.ascii_letters + string.digits
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class MalformedXml(ValueError):
    """The body is not a flat WeChat ``<xml>`` document."""


def string_to_sign(params: Mapping[str, object], api_key: str) -> bytes:
    """The bytes WeChat signs: non-empty params sorted by name as k=v, joined by &, then key."""
    parts = [
        f"{name}={params[name]}"
        for name in sorted(params)
        if name != "sign" and params[name] is not None and str(params[name]) != ""
    ]
    parts.append(f"key={api_key}")
    return "&".join(parts).encode("utf-8")


def sign_md5(params: Mapping[str, object], api_key: str) -> str:
    """WeChat Pay v2 MD5 signature, upper-case hex."""
    return hashlib.md5(string_to_sign(params, api_key)).hexdigest().upper()


def sign_hmac_sha256(params: Mapping[str, object], api_key: str) -> str:
    """WeChat Pay v2 HMAC-SHA256 signature keyed with the API key, upper-case hex."""
    digest = hmac.new(api_key.encode("utf-8"), string_to_sign(params, api_key), hashlib.sha256)
    return digest.hexdigest().upper()


def calculate_sign(params: Mapping[str, object], api_key: str, sign_type: str = "MD5") -> str:
    """Signature of ``params`` with the given sign type (MD5 or HMAC-SHA256)."""
    if sign_type == SIGN_TYPE_HMAC_SHA256:
        return sign_hmac_sha256(params, api_key)
    if sign_type == SIGN_TYPE_MD5:
        return sign_md5(params, api_key)
    raise ValueError(f"unsupported sign_type {sign_type!r}")


def verify_sign(params: Mapping[str, object], api_key: str) -> bool:
    """True when ``params['sign']`` matches, using the sign_type the params declare."""
    sign_type = str(params.get("sign_type") or SIGN_TYPE_MD5)
    given = params.get("sign")
    if sign_type not in SIGN_TYPES or not isinstance(given, str) or not given:
        return False
    expected = calculate_sign(params, api_key, sign_type)
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8"))


def signed(params: Mapping[str, object], api_key: str, sign_type: str = "MD5") -> dict[str, str]:
    """A copy of ``params`` (empty values dropped) with its ``sign`` added."""
    out = {k: str(v) for k, v in params.items() if v is not None and str(v) != "" and k != "sign"}
    out["sign"] = calculate_sign(out, api_key, sign_type)
    return out


def _cdata(value: str) -> str:
    # "]]>" cannot appear inside one CDATA section, so split it across two.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def to_xml(params: Mapping[str, object], root: str = "xml") -> str:
    """Serialise flat params the way WeChat does: one element per field, text in CDATA."""
    body = "".join(f"<{k}>{_cdata(str(v))}</{k}>" for k, v in params.items() if v is not None)
    return f"<{root}>{body}</{root}>"


def parse_xml(raw: bytes | str) -> dict[str, str]:
    """Parse a flat ``<xml>`` body into str fields; MalformedXml for anything else.

    Entity declarations (billion laughs, XXE) are refused outright rather than expanded.
    """
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedXml("body is not UTF-8") from exc
    else:
        text = raw
    root_at = text.find("<xml")
    prolog = text if root_at < 0 else text[:root_at]
    if "<!DOCTYPE" in prolog.upper():
        # WeChat bodies never carry a DTD; refusing it closes XXE and entity bombs up front.
        raise MalformedXml("DTDs are not accepted")
    try:
        # Whitespace inside values is signed, so it must survive parsing.
        doc = xmltodict.parse(text, disable_entities=True, strip_whitespace=False)
    except (ExpatError, ValueError, xmltodict.ParsingInterrupted) as exc:
        raise MalformedXml(f"unparseable XML: {exc}") from exc
    if not isinstance(doc, dict) or set(doc) != {"xml"}:
        raise MalformedXml("root element must be <xml>")
    fields = doc["xml"]
    if fields is None or (isinstance(fields, str) and not fields.strip()):
        return {}
    if not isinstance(fields, dict):
        raise MalformedXml("<xml> must contain fields")
    fields = dict(fields)
    if str(fields.pop("#text", "")).strip():
        raise MalformedXml("<xml> must contain only fields")
    out: dict[str, str] = {}
    for name, value in fields.items():
        if not _FIELD_NAME.match(name):
            raise MalformedXml(f"unexpected attribute or field {name!r}")
        if value is None:
            out[name] = ""
        elif isinstance(value, str):
            out[name] = value
        else:
            raise MalformedXml(f"field {name!r} must be plain text")
    return out


def nonce_str(length: int = 32) -> str:
    """A random nonce of letters and digits, as WeChat sends."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


def _refund_cipher(api_key: str) -> Cipher:
    # WeChat keys refund-notify encryption with the lower-case hex MD5 of the API key.
    key = hashlib.md5(api_key.encode("utf-8")).hexdigest().encode("ascii")
    return Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305 - WeChat's format, not ours


def encrypt_refund_info(plain_xml: str, api_key: str) -> str:
    """Encrypt a refund notify's ``<root>`` XML into ``req_info`` (AES-256-ECB, PKCS7, base64)."""
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain_xml.encode("utf-8")) + padder.finalize()
    encryptor = _refund_cipher(api_key).encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode("ascii")


def decrypt_refund_info(req_info: str, api_key: str) -> str:
    """Inverse of encrypt_refund_info, for tests and the sandbox UI."""
    decryptor = _refund_cipher(api_key).decryptor()
    data = decryptor.update(base64.b64decode(req_info)) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return (unpadder.update(data) + unpadder.finalize()).decode("utf-8")
