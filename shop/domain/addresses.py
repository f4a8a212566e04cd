"""Shipping addresses: what makes one deliverable.

Each field has its own rule (``validate_recipient``, ``validate_phone``,
``validate_street``) so the chat can judge one typed line at a time;
``validate_address`` applies them all. A refusal is an :class:`AddressError`
whose ``code`` says which rule failed ("recipient", "recipient_is_phone",
"phone", "detail", "detail_is_phone", "region", "control").
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Mainland mobile numbers: 11 digits starting 1[3-9].
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# Landlines, digits only: a 3-digit area code (010, 02x) or a 4-digit one (0xxx), then
# a local number of 7 or 8 digits.
_LANDLINE_SHORT_AREA = re.compile(r"^(010|02\d)(\d{7,8})$")
_LANDLINE_LONG_AREA = re.compile(r"^(0[3-9]\d{2})(\d{7,8})$")
# What people put around a phone number: spaces, dashes, dots, parentheses.
_PHONE_SEPARATORS = re.compile(r"[\s\-.()]")
# A mobile number somewhere inside a longer text, with the separators people type.
_MOBILE_INSIDE = re.compile(
    r"(?<!\d)(?:(?:\+|00)?86[\s\-.()]*)?1[3-9]\d(?:[\s\-.()]*\d){8}(?!\d)"
)
MIN_STREET = 5  # characters: "某路1号" is about the shortest street address there is
MAX_STREET = 200
MIN_STREET_LETTERS = 2  # a street has a name, not only numbers
MAX_RECIPIENT = 32
MAX_REGION = 64


class AddressError(ValueError):
    """An address that cannot be delivered to; the message says which part and why."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ShippingAddress:
    """Recipient, phone and the full postal address of a delivery."""

    recipient: str
    phone: str
    region: str
    detail: str

    def one_line(self) -> str:
        """The address as printed on a shipping label."""
        return f"{self.region} {self.detail}".strip()


def _fold(text: str) -> str:
    # Full-width digits and plus signs (typed on Chinese keyboards) become ASCII.
    return unicodedata.normalize("NFKC", text or "").strip()


def parse_phone(raw: str) -> str | None:
    """The canonical form of a phone number, or None if it is not one.

    Mobiles become their 11 digits whatever was typed around them ("+86 139
    1234 5678", "0086-139-1234-5678", "(+86) 13912345678"); landlines become
    "area-local" ("(021) 1234 5678" -> "021-12345678").
    """
    text = _fold(raw)
    if not text or any(ch not in "0123456789+-.() \t" for ch in text):
        return None
    if text.count("+") > 1 or ("+" in text and not text.lstrip("(").startswith("+")):
        return None
    digits = _PHONE_SEPARATORS.sub("", text).lstrip("+")
    if not digits.isdigit():
        return None
    international = text.lstrip("(").startswith(("+", "00"))
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and (international or len(digits) == 13):
        digits = digits[2:]
    elif international:
        return None  # another country's number: no courier here can call it
    if _MOBILE.match(digits):
        return digits
    if international and len(digits) in (9, 10, 11) and not digits.startswith("0"):
        digits = "0" + digits  # "+86 21 1234 5678": the area code loses its 0 abroad
    for pattern in (_LANDLINE_SHORT_AREA, _LANDLINE_LONG_AREA):
        match = pattern.match(digits)
        if match:
            return f"{match.group(1)}-{match.group(2)}"
    return None


def normalise_phone(raw: str) -> str:
    """The canonical form of a phone number, or the input trimmed when it is not one."""
    return parse_phone(raw) or _fold(raw)


def _no_control(text: str) -> None:
    if any(ord(ch) < 32 or unicodedata.category(ch) == "Cc" for ch in text):
        raise AddressError("address must not contain control characters", "control")


def _letters(text: str) -> int:
    return sum(1 for ch in text if ch.isalpha())


def validate_recipient(raw: str) -> str:
    """The recipient's name, trimmed: 1 to 32 characters with a letter in it, not a phone."""
    name = _fold(raw)
    _no_control(name)
    if not 1 <= len(name) <= MAX_RECIPIENT:
        raise AddressError("recipient name must be 1 to 32 characters", "recipient")
    if parse_phone(name) is not None or _MOBILE_INSIDE.search(name):
        raise AddressError("recipient name must be a name, not a phone number",
                           "recipient_is_phone")
    if _letters(name) == 0:
        raise AddressError("recipient name must be 1 to 32 characters", "recipient")
    return name


def validate_phone(raw: str) -> str:
    """A mobile (11 digits) or landline number in canonical form."""
    phone = parse_phone(raw)
    if phone is None:
        raise AddressError(
            "phone must be an 11-digit mobile number or a landline with area code", "phone")
    return phone


def validate_street(raw: str) -> str:
    """The street address, trimmed: 5 to 200 characters, naming a street, with no phone number.

    A phone number typed at the address step (the user answering the previous
    question again) is refused, and so is an address with a mobile number in it:
    the number has its own field, which pages mask, while the address is shown whole.
    """
    detail = _fold(raw)
    _no_control(detail)
    if parse_phone(detail) is not None or _MOBILE_INSIDE.search(detail):
        raise AddressError("a street address must not be or contain a phone number",
                           "detail_is_phone")
    if not MIN_STREET <= len(detail) <= MAX_STREET:
        raise AddressError("street address must be 5 to 200 characters", "detail")
    if _letters(detail) < MIN_STREET_LETTERS:
        raise AddressError("street address must name a street, not only numbers", "detail")
    return detail


def validate_region(raw: str) -> str:
    """The optional region (province, city, district): at most 64 characters."""
    region = _fold(raw)
    _no_control(region)
    if len(region) > MAX_REGION:
        raise AddressError("region must be at most 64 characters", "region")
    return region


def validate_address(recipient: str, phone: str, region: str, detail: str) -> ShippingAddress:
    """A clean ShippingAddress, or AddressError saying what is wrong (the first rule broken)."""
    return ShippingAddress(
        validate_recipient(recipient),
        validate_phone(phone),
        validate_region(region),
        validate_street(detail),
    )
