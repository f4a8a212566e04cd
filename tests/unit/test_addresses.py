"""Address rules: phone formats, each field's refusals, and the one phone mask."""
from __future__ import annotations

import pytest

from bots.dialogue.texts import mask_phone
from shop.domain.addresses import (
    AddressError,
    normalise_phone,
    parse_phone,
    validate_address,
    validate_phone,
    validate_recipient,
    validate_street,
)


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("13912345678", "13912345678"),
        ("139 1234 5678", "13912345678"),
        ("139-1234-5678", "13912345678"),
        ("+86 139 1234 5678", "13912345678"),
        ("+86-139-1234-5678", "13912345678"),
        ("+8613912345678", "13912345678"),
        ("0086 139 1234 5678", "13912345678"),
        ("(+86) 139 1234 5678", "13912345678"),
        ("86 13912345678", "13912345678"),
        ("１３９１２３４５６７８", "13912345678"),  # full-width, from a Chinese keyboard
        ("＋８６ 139.1234.5678", "13912345678"),
        ("021-12345678", "021-12345678"),
        ("(021) 1234 5678", "021-12345678"),
        ("010 1234 5678", "010-12345678"),
        ("0755-1234567", "0755-1234567"),
        ("+86 21 1234 5678", "021-12345678"),
    ],
)
def test_common_phone_formats_are_normalised(typed, canonical):
    assert parse_phone(typed) == canonical
    assert validate_phone(typed) == canonical
    assert normalise_phone(typed) == canonical


@pytest.mark.parametrize(
    "typed",
    ["", "12345", "1391234567", "139123456789", "12345678901", "13912345678x", "abc",
     "+1 415 555 1234", "+86 +139 1234 5678", "139 1234 5678 转 8", "2112345678",
     "0086 12345678901"],
)
def test_what_is_not_a_phone_number_is_refused(typed):
    assert parse_phone(typed) is None
    with pytest.raises(AddressError) as refused:
        validate_phone(typed)
    assert refused.value.code == "phone"


@pytest.mark.parametrize(
    "typed",
    ["+86 139 1234 5678", "13912345678", "021-12345678", "上海市 13912345678",
     "上海市浦东新区世纪大道100号 139-1234-5678"],
)
def test_a_phone_number_is_not_a_street_address(typed):
    with pytest.raises(AddressError) as refused:
        validate_street(typed)
    assert refused.value.code == "detail_is_phone"


@pytest.mark.parametrize("typed", ["上海", "1234", "12345678 / 9", "---------"])
def test_a_street_address_is_long_enough_and_names_a_street(typed):
    with pytest.raises(AddressError) as refused:
        validate_street(typed)
    assert refused.value.code == "detail"


@pytest.mark.parametrize(
    "typed",
    ["上海市浦东新区世纪大道100号", "世纪大道 100 号", "1号楼1201室 中山路100弄",
     "Room 1203, 100 Century Avenue", "长安街 1 号院"],
)
def test_real_street_addresses_are_kept_as_typed(typed):
    assert validate_street(f"  {typed} ") == typed


def test_a_recipient_is_a_name_not_a_phone_number():
    assert validate_recipient(" 张三 ") == "张三"
    for typed, code in (("13912345678", "recipient_is_phone"),
                        ("+86 139 1234 5678", "recipient_is_phone"),
                        ("123", "recipient"), ("", "recipient"), ("名" * 33, "recipient")):
        with pytest.raises(AddressError) as refused:
            validate_recipient(typed)
        assert refused.value.code == code, typed


def test_the_whole_address_applies_every_rule():
    address = validate_address("李四", "0086 (138) 0013-8000", " 北京市 ", "朝阳区建国路 1 号")
    assert (address.recipient, address.phone, address.region) == ("李四", "13800138000", "北京市")
    with pytest.raises(AddressError) as refused:
        validate_address("李四", "13800138000", "", "13800138000")
    assert refused.value.code == "detail_is_phone"


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13800138000", "138****8000"), ("021-12345678", "021-****5678"),
     ("0755-1234567", "0755-***4567"), ("12345", "*2345"), ("", "")],
)
def test_one_mask_for_every_phone_shown(phone, masked):
    assert mask_phone(phone) == masked
    assert (phone[-4:] in mask_phone(phone)) or not phone
