"""Shipping addresses: what makes one deliverable."""
from __future__ import annotations

import re
from dataclasses import dataclass

# Mainland mobile numbers: 11 digits starting 1[3-9]; landlines with area code.
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


class AddressError(ValueError):
    """An address that cannot be delivered to; the message says which part and why."""


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


def normalise_phone(raw: str) -> str:
    """Strip spaces, dashes in mobiles and a +86 prefix."""
    phone = re.sub(r"[\s()]", "", raw or "")
    if phone.startswith("+86"):
        phone = phone[3:]
    if _MOBILE.match(phone.replace("-", "")):
        return phone.replace("-", "")
    return phone


def validate_address(recipient: str, phone: str, region: str, detail: str) -> ShippingAddress:
    """A clean ShippingAddress, or AddressError saying what is wrong."""
    recipient = (recipient or "").strip()
    region = (region or "").strip()
    detail = (detail or "").strip()
    phone = normalise_phone(phone)
    if not 1 <= len(recipient) <= 32:
        raise AddressError("recipient name must be 1 to 32 characters")
    if not (_MOBILE.match(phone) or _LANDLINE.match(phone)):
        raise AddressError("phone must be an 11-digit mobile number or a landline with area code")
    if len(region) > 64:
        raise AddressError("region must be at most 64 characters")
    if not 5 <= len(detail) <= 200:
        raise AddressError("street address must be 5 to 200 characters")
    for part in (recipient, region, detail):
        if any(ord(ch) < 32 for ch in part):
            raise AddressError("address must not contain control characters")
    return ShippingAddress(recipient, phone, region, detail)
