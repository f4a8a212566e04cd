"""The adapter's pure parts: signatures, safe XML, reply rendering, inbound mapping."""
from __future__ import annotations

import pytest

from adapters.wechat.messages import (
    Refused,
    check_query,
    parse_fields,
    read_message,
    render_reply,
    sign,
)
from adapters.wechat.messages.crypto import AesKeys, valid_aes_key
from adapters.wechat.messages.replies import cdata
from adapters.wechat.messages.signature import signature_matches
from bots.messages import ArticleReply, TextReply
from tests.support.wechat_messages import (
    AES_KEY,
    APP_ID,
    BILLION_LAUGHS,
    CASES,
    OLD_AES_KEY,
    TOKEN,
    XXE,
    aes_encrypt,
    event_xml,
    fields,
    text_xml,
)

VECTOR = ("AAAAA", "1714037059", "486452656")
VECTOR_SIGNATURE = "899cf89e464efb63f54ddac96b0a0a235f53aa78"


def test_published_signature_vector():
    assert sign(*VECTOR) == VECTOR_SIGNATURE
    assert sign(*reversed(VECTOR)) == VECTOR_SIGNATURE  # order does not matter


@pytest.mark.parametrize("given", ["", VECTOR_SIGNATURE.upper(), VECTOR_SIGNATURE[:-1],
                                   "签名" * 20, "\ud800", VECTOR_SIGNATURE + "0"])
def test_signature_comparison_refuses_without_raising(given):
    assert not signature_matches(VECTOR_SIGNATURE, given)


def _query(**overrides):
    query = {"signature": VECTOR_SIGNATURE, "timestamp": VECTOR[1], "nonce": VECTOR[2]}
    query.update(overrides)
    return {k: v for k, v in query.items() if v is not None}


def _check(query, now=1714037059, post=False):
    return check_query(query, token="AAAAA", now=now, window=300, post=post)


def test_query_with_the_vector_passes_inside_the_window():
    assert _check(_query(), now=1714037059 + 299).nonce == VECTOR[2]
    assert _check(_query(), now=1714037059 - 299).timestamp == VECTOR[1]


@pytest.mark.parametrize("query,now,status", [
    (_query(signature=None), 1714037059, 400),
    (_query(timestamp=None), 1714037059, 400),
    (_query(nonce=None), 1714037059, 400),
    (_query(timestamp="17140370x9"), 1714037059, 400),
    (_query(timestamp="１７１４０３７０５９"), 1714037059, 400),  # full-width digits
    (_query(timestamp="9" * 13), 1714037059, 400),
    (_query(nonce="n" * 129), 1714037059, 400),
    (_query(nonce="a\nb"), 1714037059, 400),
    (_query(signature="0" * 40), 1714037059, 403),
    (_query(nonce="486452657"), 1714037059, 403),
    (_query(), 1714037059 + 301, 403),  # replayed later
    (_query(), 1714037059 - 301, 403),  # from the future
])
def test_bad_queries_are_refused(query, now, status):
    with pytest.raises(Refused) as exc:
        _check(query, now=now)
    assert exc.value.status == status


def test_encrypted_post_needs_msg_signature_and_a_known_mode():
    with pytest.raises(Refused) as exc:
        _check(_query(encrypt_type="aes"), post=True)
    assert exc.value.status == 400
    with pytest.raises(Refused) as exc:
        _check(_query(encrypt_type="rot13"), post=True)
    assert exc.value.status == 400
    signed = _check(_query(signature=None, encrypt_type="AES", msg_signature="abc"), post=True)
    assert signed.encrypted and signed.msg_signature == "abc"


# --- safe XML -------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b"", b"   ", b"<xml", b"not xml at all", b"<xml><a></xml>", b"<other/>", b"<xml/><xml/>",
    BILLION_LAUGHS.encode(), XXE.encode(),
    b"<!-- a comment <a --><!DOCTYPE xml><xml/>",  # a DTD hidden behind a tag-like comment
    b"<!doctype xml><xml/>", b"<!ENTITY x 'y'><xml/>",
    b"<xml><!DOCTYPE xml></xml>", b"<xml>&undefined;</xml>", b"<xml><a>&#0;</a></xml>",
    b"<xml><a>\xff\xfe</a></xml>", "<xml><a>中文</a></xml>".encode("gbk"),
    "<xml/>".encode("utf-16"), b"<?xml version='1.0'", b"<!-- unterminated",
])
def test_hostile_or_broken_xml_is_refused_with_400(body):
    with pytest.raises(Refused) as exc:
        parse_fields(body)
    assert exc.value.status == 400


def test_flat_fields_are_read_and_user_text_may_mention_doctype():
    body = (
        '<?xml version="1.0" encoding="GBK"?><!-- hi --><xml>'
        "<Content><![CDATA[<!DOCTYPE x [<!ENTITY a 'b'>]> &amp; ]]]]><![CDATA[> 中文]]></Content>"
        "<A>1</A><A>2</A><ScanCodeInfo><ScanType>qrcode</ScanType></ScanCodeInfo></xml>"
    ).encode()
    assert parse_fields(body) == {
        "Content": "<!DOCTYPE x [<!ENTITY a 'b'>]> &amp; ]]> 中文", "A": "1"
    }


# --- replies --------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "]]>", "a]]>b", "]]]]>", "x]]><evil/><![CDATA[", "<![CDATA[", "]]]>>", "]]", "中文 ]]> ok",
])
def test_cdata_cannot_be_broken_out_of(text):
    xml = render_reply(TextReply(text), to_user="o1", from_user="gh", create_time=1)
    assert fields(xml)["Content"] == text


def test_characters_xml_cannot_carry_are_dropped():
    xml = render_reply(TextReply("a\x00b\x1bc\ufffed\ud800e\tf\U0001f600"),
                       to_user="o1", from_user="gh", create_time=1)
    assert fields(xml)["Content"] == "abcde\tf\U0001f600"


def test_text_and_news_replies_render_as_wechat_expects():
    text = fields(render_reply(TextReply("你好"), to_user="o-1", from_user="gh_1", create_time=7))
    assert text == {"ToUserName": "o-1", "FromUserName": "gh_1", "CreateTime": "7",
                    "MsgType": "text", "Content": "你好"}
    news = fields(render_reply(
        ArticleReply("T]]>", "D", "http://img/1.png", "http://x/?a=1&b=2"),
        to_user="o-1", from_user="gh_1", create_time=7,
    ))
    assert news["MsgType"] == "news" and news["ArticleCount"] == "1"
    assert news["Articles"] == [{"Title": "T]]>", "Description": "D",
                                 "PicUrl": "http://img/1.png", "Url": "http://x/?a=1&b=2"}]
    assert cdata("") == "<![CDATA[]]>"


def test_render_refuses_what_is_not_a_reply():
    with pytest.raises(TypeError):
        render_reply("hello", to_user="o", from_user="g", create_time=1)  # type: ignore[arg-type]


# --- inbound mapping ------------------------------------------------------------------------



@pytest.mark.parametrize("xml,expected", CASES, ids=[str(i) for i in range(len(CASES))])
def test_every_message_and_event_maps_to_an_inbound(xml, expected):
    message = read_message(parse_fields(xml.encode()))
    assert message.inbound == expected
    assert message.openid == "o-user-1" and message.account == "gh_testaccount"


def test_retry_identity():
    same = text_xml("a", msg_id=1)
    assert read_message(parse_fields(same.encode())).identity == read_message(
        parse_fields(text_xml("b", msg_id=1).encode())).identity
    ev = [read_message(parse_fields(event_xml(e, create_time=100, EventKey=k).encode())).identity
          for e, k in [("CLICK", "A"), ("CLICK", "A"), ("CLICK", "B"), ("LOCATION", "")]]
    assert ev[0] == ev[1] and len(set(ev)) == 3
    other_user = event_xml("CLICK", create_time=100, EventKey="A", openid="o-2")
    assert read_message(parse_fields(other_user.encode())).identity != ev[0]


@pytest.mark.parametrize("xml", [
    "<xml><ToUserName>gh</ToUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>",
    "<xml><FromUserName>o</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>",
    "<xml><FromUserName>o</FromUserName><ToUserName>gh</ToUserName><MsgType>text</MsgType></xml>",
    text_xml("x", create_time="yesterday"),
    text_xml("x", openid="o" * 65),
    text_xml("x", openid="bad\nid"),
    text_xml("x", msg_id="12ab"),
])
def test_messages_that_cannot_be_answered_are_refused(xml):
    with pytest.raises(Refused) as exc:
        read_message(parse_fields(xml.encode()))
    assert exc.value.status == 400


def test_aes_keys_validation_and_fallback(caplog):
    assert valid_aes_key(AES_KEY) and not valid_aes_key(AES_KEY[:-1])
    assert not valid_aes_key("!" * 43)
    assert not AesKeys(TOKEN, APP_ID, "short").enabled
    assert "not a valid" in caplog.text
    keys = AesKeys(TOKEN, APP_ID, AES_KEY, OLD_AES_KEY)
    old = aes_encrypt("<xml/>", OLD_AES_KEY)
    opened = keys.open(old, sign(TOKEN, "1", "2", old), "1", "2")
    assert opened.xml == "<xml/>"
    foreign = aes_encrypt("<xml/>", AES_KEY, "wxother")  # sealed for another account
    with pytest.raises(Refused):
        keys.open(foreign, sign(TOKEN, "1", "2", foreign), "1", "2")
