"""The sandbox's WeChat Pay wire format against WeChat's published vectors and wechatpy."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wechatpy.crypto import WeChatRefundCrypto
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac

from sandbox import signing

# From /work/shared/WECHAT-VECTORS.md (WeChat's own documentation).
VECTOR_PARAMS = {
    "appid": "wxd930ea5d5a258f4f",
    "mch_id": "10000100",
    "device_info": "1000",
    "body": "test",
    "nonce_str": "ibuaiVcKdpRxkhJA",
}
VECTOR_KEY = "192006250b4c09247ec02edce69f6a2d"


def test_string_to_sign_matches_the_documented_layout() -> None:
    assert signing.string_to_sign(VECTOR_PARAMS, VECTOR_KEY) == (
        b"appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100"
        b"&nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d"
    )


def test_md5_vector() -> None:
    assert signing.sign_md5(VECTOR_PARAMS, VECTOR_KEY) == "9A0A8659F005D6984697E2CA0A9CF3B7"


def test_hmac_sha256_vector() -> None:
    assert signing.sign_hmac_sha256(VECTOR_PARAMS, VECTOR_KEY) == (
        "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
    )


def test_verify_uses_the_declared_sign_type() -> None:
    md5 = dict(VECTOR_PARAMS, sign="9A0A8659F005D6984697E2CA0A9CF3B7")
    assert signing.verify_sign(md5, VECTOR_KEY)
    hmac_params = dict(VECTOR_PARAMS, sign_type="HMAC-SHA256")
    hmac_params["sign"] = signing.sign_hmac_sha256(hmac_params, VECTOR_KEY)
    assert signing.verify_sign(hmac_params, VECTOR_KEY)
    assert not signing.verify_sign(dict(hmac_params, sign_type="MD5"), VECTOR_KEY)
    assert not signing.verify_sign(dict(md5, body="tampered"), VECTOR_KEY)
    assert not signing.verify_sign(dict(md5, sign_type="SHA1"), VECTOR_KEY)
    assert not signing.verify_sign(VECTOR_PARAMS, VECTOR_KEY)


def test_empty_values_and_sign_are_left_out_of_the_signature() -> None:
    with_extras = dict(VECTOR_PARAMS, attach="", sign="whatever")
    assert signing.sign_md5(with_extras, VECTOR_KEY) == "9A0A8659F005D6984697E2CA0A9CF3B7"


_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
)
_params = st.dictionaries(st.from_regex(r"[a-z][a-z_]{0,15}", fullmatch=True), _text, max_size=8)


@given(_params)
def test_signatures_agree_with_wechatpy(params: dict[str, str]) -> None:
    assert signing.sign_md5(params, VECTOR_KEY) == calculate_signature(params, VECTOR_KEY)
    assert signing.sign_hmac_sha256(params, VECTOR_KEY) == calculate_signature_hmac(
        params, VECTOR_KEY
    )


@given(_params)
def test_xml_round_trip(params: dict[str, str]) -> None:
    # XML normalises CR and CRLF to LF, exactly as WeChat's parser would.
    expected = {k: v.replace("\r\n", "\n").replace("\r", "\n") for k, v in params.items()}
    assert signing.parse_xml(signing.to_xml(params).encode()) == expected


@given(_text)
def test_refund_info_decrypts_with_wechatpy(secret: str) -> None:
    plain = signing.to_xml({"refund_fee": "300", "note": secret}, root="root")
    req_info = signing.encrypt_refund_info(plain, VECTOR_KEY)
    assert signing.decrypt_refund_info(req_info, VECTOR_KEY) == plain
    envelope = {"appid": "wx1", "mch_id": "m1", "req_info": req_info}
    decrypted = WeChatRefundCrypto(VECTOR_KEY).decrypt_message(envelope, "wx1", "m1")
    assert decrypted["refund_fee"] == "300"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><body>&lol3;</body></xml>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><body>&xxe;</body></xml>"""


@pytest.mark.parametrize(
    "raw",
    [
        BILLION_LAUGHS,
        XXE,
        b"<xml><body>unclosed</xml>",
        b"not xml at all",
        b"",
        b"<other><a>1</a></other>",
        b"<xml><a><b>nested</b></a></xml>",
        b"<xml><a>1</a><a>2</a></xml>",
        b'<xml><a x="1">1</a></xml>',
        b'<xml x="1"><a>1</a></xml>',
        b"<xml><a>\xff\xfe</a></xml>",
    ],
)
def test_parse_xml_refuses_anything_but_flat_xml(raw: bytes) -> None:
    with pytest.raises(signing.MalformedXml):
        signing.parse_xml(raw)


def test_cdata_terminator_inside_a_value_survives() -> None:
    tricky = {"body": "a]]>b<c>&d"}
    assert signing.parse_xml(signing.to_xml(tricky)) == tricky
