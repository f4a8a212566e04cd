"""The WeChat push format the chat page sends, checked against wechatpy and WeChat's vectors."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.replies import ArticlesReply
from wechatpy.utils import check_signature

from sandbox import chat_wire
from sandbox.chat_wire import AES, COMPAT, PLAIN, Keys, ReplyError

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
KEYS = Keys(app_id="wxsandboxtest0001", token="sandbox-token", encoding_aes_key=AES_KEY,
            original_id="gh_sandbox0001")
OPENID = "o-sandbox-abcdefghijklmnopq"


def _text_push(content: str, mode: str = PLAIN) -> chat_wire.SignedPush:
    xml = chat_wire.inbound_xml(KEYS, OPENID, 1714037059, "text",
                                [("Content", content), ("MsgId", 24000000000000001)])
    return chat_wire.sign_push(KEYS, OPENID, xml, mode, timestamp="1714037059", nonce="486452656")


def test_server_signature_matches_wechat_vector() -> None:
    signature = chat_wire.server_signature("AAAAA", "1714037059", "486452656")
    assert signature == "899cf89e464efb63f54ddac96b0a0a235f53aa78"


def test_plain_push_is_what_wechatpy_expects() -> None:
    push = _text_push("菜单")
    assert set(push.query) == {"signature", "timestamp", "nonce", "openid"}
    check_signature(KEYS.token, push.query["signature"], push.query["timestamp"],
                    push.query["nonce"])
    assert chat_wire.verify_query(KEYS.token, push.query)
    message = parse_message(push.body)
    assert message.type == "text" and message.content == "菜单"
    assert message.source == OPENID and message.target == KEYS.original_id
    assert message.id == 24000000000000001 and message.create_time.year == 2024
    assert b"<CreateTime>1714037059</CreateTime>" in push.body  # numbers are bare


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
@settings(max_examples=80, deadline=None)
def test_any_text_survives_the_trip(content: str) -> None:
    push = _text_push(content)
    parsed = parse_message(push.body)
    expected = chat_wire.xml_safe(content)
    # XML turns CR and CRLF into LF, and wechatpy's parser strips surrounding whitespace.
    normalised = expected.replace("\r\n", "\n").replace("\r", "\n").strip()
    assert (parsed.content or "") == normalised


def test_cdata_breakout_is_defused() -> None:
    push = _text_push("a]]><MsgType>image</MsgType><![CDATA[b")
    message = parse_message(push.body)
    assert message.type == "text" and message.content == "a]]><MsgType>image</MsgType><![CDATA[b"


@pytest.mark.parametrize("mode", [AES, COMPAT])
def test_encrypted_push_decrypts_with_wechatpy(mode: str) -> None:
    push = _text_push("hello ]]> 你好", mode)
    assert push.query["encrypt_type"] == "aes"
    check_signature(KEYS.token, push.query["signature"], push.query["timestamp"],
                    push.query["nonce"])
    crypto = WeChatCrypto(KEYS.token, AES_KEY, KEYS.app_id)
    plain = crypto.decrypt_message(push.body, push.query["msg_signature"],
                                   push.query["timestamp"], push.query["nonce"])
    assert parse_message(plain).content == "hello ]]> 你好"
    if mode == AES:
        assert b"<Content>" not in push.body and b"<ToUserName>" in push.body
    else:
        assert parse_message(push.body).content == "hello ]]> 你好"  # plaintext still there


def test_push_refuses_unknown_mode_and_missing_key() -> None:
    with pytest.raises(ValueError):
        _text_push("x", "rot13")
    keyless = Keys(KEYS.app_id, KEYS.token, "", KEYS.original_id)
    with pytest.raises(ValueError):
        chat_wire.sign_push(keyless, OPENID, "<xml></xml>", AES, timestamp="1", nonce="2")


def _reply_for(push: chat_wire.SignedPush, reply: object, encrypt: bool) -> bytes:
    rendered = reply.render()  # type: ignore[attr-defined]
    if encrypt:
        crypto = WeChatCrypto(KEYS.token, AES_KEY, KEYS.app_id)
        rendered = crypto.encrypt_message(rendered, "123456", "1714037060")
    return rendered.encode()


def test_reads_plain_and_encrypted_text_replies() -> None:
    for mode, encrypt in ((PLAIN, False), (COMPAT, False), (COMPAT, True), (AES, True)):
        push = _text_push("hi", mode)
        reply = create_reply("你好 <b>", parse_message(push.plain_xml))
        read = chat_wire.read_reply(KEYS, push, 200, _reply_for(push, reply, encrypt))
        assert read.message == {"type": "text", "content": "你好 <b>"}
        assert read.encrypted is encrypt


def test_news_reply_shows_only_the_first_article() -> None:
    push = _text_push("news")
    reply = ArticlesReply(message=parse_message(push.plain_xml), articles=[
        {"title": f"t{i}", "description": "d", "image": "http://x.test/p.png",
         "url": "http://x.test/h5/pay/1"} for i in range(3)
    ])
    read = chat_wire.read_reply(KEYS, push, 200, _reply_for(push, reply, False))
    assert read.message is not None and read.message["total"] == 3
    assert read.message["articles"] == [{"title": "t0", "description": "d",
                                         "picurl": "http://x.test/p.png",
                                         "url": "http://x.test/h5/pay/1"}]


@pytest.mark.parametrize("body", [b"", b"success", b"  success\n"])
def test_empty_and_success_mean_no_reply(body: bytes) -> None:
    assert chat_wire.read_reply(KEYS, _text_push("x"), 200, body).message is None


def test_bad_replies_are_refused() -> None:
    push = _text_push("x")
    good = create_reply("ok", parse_message(push.plain_xml)).render()
    cases: list[tuple[chat_wire.SignedPush, int, bytes]] = [
        (push, 500, good.encode()),
        (push, 200, b"<html>oops</html"),
        (push, 200, b"\xff\xfe"),
        (push, 200, b'<!DOCTYPE x [<!ENTITY a "b">]><xml><Content>&a;</Content></xml>'),
        (push, 200, good.replace(OPENID, "o-someone-else").encode()),
        (push, 200, good.replace(KEYS.original_id, "gh_other").encode()),
        (push, 200, good.replace("text", "hologram").encode()),
        (_text_push("x", AES), 200, good.encode()),  # safe mode needs an encrypted reply
    ]
    encrypted = WeChatCrypto(KEYS.token, AES_KEY, KEYS.app_id).encrypt_message(good, "1", "2")
    cases.append((push, 200, encrypted.encode()))  # encrypted answer to a plaintext push
    tampered = encrypted.replace("<MsgSignature><![CDATA[", "<MsgSignature><![CDATA[0")
    cases.append((_text_push("x", AES), 200, tampered.encode()))
    other_app = WeChatCrypto(KEYS.token, AES_KEY, "wxsomeoneelse").encrypt_message(good, "1", "2")
    cases.append((_text_push("x", AES), 200, other_app.encode()))
    for which, status, body in cases:
        with pytest.raises(ReplyError):
            chat_wire.read_reply(KEYS, which, status, body)


def test_push_round_trips_through_a_dict() -> None:
    push = _text_push("again", AES)
    assert chat_wire.SignedPush.from_dict(push.to_dict()) == push


def test_a_passive_image_reply_shows_the_uploaded_picture() -> None:
    shown = chat_wire.display_reply({"MsgType": "image", "Image": {"MediaId": "m/1"}})
    assert shown == {"type": "image", "media_id": "m/1", "url": "/sandbox/chat/media/m%2F1"}
    assert chat_wire.display_reply({"MsgType": "image"}) == {"type": "media", "label": "[图片]"}
