"""POST /wechat: modes, hostile bodies, every message type."""
from __future__ import annotations

import io
import logging
import time

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from bots.messages import ArticleReply, InboundKind, TextReply
from core.models import User
from storefront import turns
from tests.support.wechat_messages import (
    ACCOUNT,
    AES_KEY,
    BILLION_LAUGHS,
    CASES,
    OLD_AES_KEY,
    TOKEN,
    XXE,
    aes_encrypt,
    event_xml,
    fields,
    message_xml,
    open_reply,
    post,
    signed_query,
    text_xml,
    wx_sign,
)
from webapp.extensions import db


@pytest.fixture
def aes_app(wx_app):
    """The app with an EncodingAESKey (safe and compatible mode accepted)."""
    wx_app.config["WECHAT_ENCODING_AES_KEY"] = AES_KEY
    return wx_app


def test_plaintext_text_message_gets_a_text_reply(wx, storefront):
    resp = post(wx, text_xml("hello", openid="o-plain"))
    assert resp.status_code == 200 and resp.mimetype == "application/xml"
    reply = fields(resp.get_data(as_text=True))
    assert reply["ToUserName"] == "o-plain" and reply["FromUserName"] == ACCOUNT
    assert reply["MsgType"] == "text" and reply["Content"] == "text:hello:None"
    assert abs(int(reply["CreateTime"]) - time.time()) < 5
    assert storefront.calls[0][0] == "o-plain"


@pytest.mark.parametrize("mode", ["safe", "compat"])
def test_encrypted_message_gets_an_encrypted_reply(aes_app, storefront, mode):
    resp = post(aes_app.test_client(), text_xml("加密 ]]> 测试"), mode=mode)
    assert resp.status_code == 200
    assert "加密" not in resp.get_data(as_text=True)
    reply = fields(open_reply(resp))
    assert reply["Content"] == "text:加密 ]]> 测试:None"


def test_compatible_mode_trusts_only_the_signed_ciphertext(aes_app, storefront):
    client = aes_app.test_client()
    inner = text_xml("the real one")
    encrypt = aes_encrypt(inner)
    forged_plain = text_xml("forged").removeprefix("<xml>").removesuffix("</xml>")
    body = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt>{forged_plain}</xml>"
    resp = client.post("/wechat", query_string=signed_query(encrypt=encrypt), data=body)
    assert fields(open_reply(resp))["Content"] == "text:the real one:None"


def test_previous_key_still_opens_messages_and_seals_the_reply(aes_app, storefront):
    aes_app.config["WECHAT_ENCODING_AES_KEY"] = AES_KEY
    aes_app.config["WECHAT_PREVIOUS_ENCODING_AES_KEY"] = OLD_AES_KEY
    client = aes_app.test_client()
    resp = post(client, text_xml("old key"), mode="safe", aes_key=OLD_AES_KEY)
    assert fields(open_reply(resp, aes_key=OLD_AES_KEY))["Content"] == "text:old key:None"
    resp = post(client, text_xml("new key"), mode="safe")
    assert fields(open_reply(resp))["Content"] == "text:new key:None"
    aes_app.config["WECHAT_PREVIOUS_ENCODING_AES_KEY"] = ""
    assert post(client, text_xml("gone"), mode="safe", aes_key=OLD_AES_KEY).status_code == 400


def _encrypted_post(client, body, query):
    return client.post("/wechat", query_string=query, data=body)


def test_encrypted_hostile_cases(aes_app, storefront):
    client = aes_app.test_client()
    inner = text_xml("x")
    enc = aes_encrypt(inner)
    good_body = f"<xml><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
    bad_sig = signed_query(encrypt=enc)
    bad_sig["msg_signature"] = "0" * 40
    assert _encrypted_post(client, good_body, bad_sig).status_code == 403
    # a valid msg_signature over garbage, or over ciphertext for another app id
    for encrypt in ["bm90IGNpcGhlcnRleHQ=", "%%%", aes_encrypt(inner, app_id="wxother"),
                    aes_encrypt(inner, OLD_AES_KEY), aes_encrypt("<!DOCTYPE x><xml/>")]:
        body = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        resp = _encrypted_post(client, body, signed_query(encrypt=encrypt))
        assert resp.status_code == 400, encrypt
    no_encrypt = signed_query(encrypt="")
    assert _encrypted_post(client, "<xml><A>1</A></xml>", no_encrypt).status_code == 400
    assert storefront.calls == []


def test_encrypted_message_without_a_configured_key_is_refused(wx, storefront):
    resp = post(wx, text_xml("x"), mode="safe")
    assert resp.status_code == 400 and storefront.calls == []


def test_plaintext_can_be_refused_when_encryption_is_required(aes_app, storefront):
    aes_app.config["WECHAT_REQUIRE_ENCRYPTION"] = True
    assert post(aes_app.test_client(), text_xml("x")).status_code == 403
    assert post(aes_app.test_client(), text_xml("x"), mode="safe").status_code == 200


@pytest.mark.parametrize("query_change,status", [
    ({"signature": "0" * 40}, 403),
    ({"signature": None}, 400),
    ({"timestamp": str(int(time.time()) - 3600)}, 403),
    ({"nonce": None}, 400),
])
def test_bad_signed_query_is_refused(wx, storefront, query_change, status):
    query = {**signed_query(), **query_change}
    if "timestamp" in query_change:
        query["signature"] = wx_sign(TOKEN, query["timestamp"], query["nonce"])
    query = {k: v for k, v in query.items() if v is not None}
    resp = wx.post("/wechat", query_string=query, data=text_xml("x"))
    assert resp.status_code == status and storefront.calls == []


def test_signed_query_replayed_with_another_body_is_refused(wx, storefront):
    query = signed_query()
    body = text_xml("mine", msg_id=1)  # built once: CreateTime must not tick between posts
    first = wx.post("/wechat", query_string=query, data=body)
    assert first.status_code == 200
    # WeChat's own retry (same body) is fine; a different body under the same signature is not.
    again = wx.post("/wechat", query_string=query, data=body)
    assert again.status_code == 200 and again.data == first.data
    forged = wx.post("/wechat", query_string=query, data=text_xml("forged", msg_id=2))
    assert forged.status_code == 403
    assert [i.text for _, i in storefront.calls] == ["mine"]


@pytest.mark.parametrize("body", [
    b"", b"<xml", b"\xff\xfe\x00<\x00x", "<xml/>".encode("utf-16"), BILLION_LAUGHS.encode(),
    XXE.encode(), b"<!--<a-->\n<!DOCTYPE xml SYSTEM 'http://evil/x.dtd'><xml/>",
    b"<xml>&xxe;</xml>", b"<html><body>hi</body></html>",
    b"<xml><FromUserName>o</FromUserName></xml>",
])
def test_hostile_bodies_get_400_and_leak_nothing(wx, storefront, body, caplog):
    with caplog.at_level(logging.INFO, logger="webapp.http.wechat"):
        resp = wx.post("/wechat", query_string=signed_query(), data=body)
    assert resp.status_code == 400
    assert resp.get_data(as_text=True) == "bad request"
    assert storefront.calls == []
    if len(body) > 8:
        assert body.decode("latin-1")[:20] not in caplog.text  # the log names, never dumps


def test_body_over_one_mib_is_413(wx, storefront):
    big = text_xml("x" * (1024 * 1024))
    resp = post(wx, big)
    assert resp.status_code == 413 and storefront.calls == []


def test_body_over_one_mib_without_content_length_is_413(wx_app, storefront):
    big = text_xml("x" * (1024 * 1024)).encode()
    builder = EnvironBuilder(path="/wechat", method="POST", query_string=signed_query(),
                             input_stream=io.BytesIO(big))
    environ = builder.get_environ()
    # Chunked upload: no length announced, the server marks the stream as terminated.
    del environ["CONTENT_LENGTH"]
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    environ["wsgi.input_terminated"] = True
    # Straight through WSGI: the test client would recompute the length.
    _, status, _ = run_wsgi_app(wx_app.wsgi_app, environ, buffered=True)
    assert status.startswith("413") and storefront.calls == []


@pytest.mark.parametrize("declared,sent,expected", [
    (None, 0, "200"),  # the whole message, as WeChat sends it
    (100, 40, "400"),  # the client went away before sending what it announced
    (1024 * 1024 + 1, 0, "413"),  # refused before anything is read
])
def test_the_announced_length_is_read_exactly(wx_app, storefront, declared, sent, expected):
    body = text_xml("hi").encode()
    data = body[:sent] if sent else body
    builder = EnvironBuilder(path="/wechat", method="POST", query_string=signed_query(),
                             input_stream=io.BytesIO(data))
    environ = builder.get_environ()
    environ["CONTENT_LENGTH"] = str(declared if declared is not None else len(body))
    _, status, _ = run_wsgi_app(wx_app.wsgi_app, environ, buffered=True)
    assert status.startswith(expected)
    assert len(storefront.calls) == (1 if expected == "200" else 0)


def test_user_text_cannot_break_out_of_the_reply(wx, storefront):
    evil = "]]></Content><MsgType>news</MsgType><Content><![CDATA[pwned"
    storefront.answer = lambda i: [TextReply(i.text)]
    reply = fields(post(wx, text_xml(evil)).get_data(as_text=True))
    assert reply["MsgType"] == "text" and reply["Content"] == evil


def test_news_reply(wx, storefront):
    storefront.answer = lambda i: [ArticleReply("商品]]>", "¥9.90", "http://i/p.png", "http://x")]
    reply = fields(post(wx, text_xml("product 1")).get_data(as_text=True))
    assert reply["MsgType"] == "news" and reply["Articles"][0]["Title"] == "商品]]>"


def test_nothing_to_say_is_success(wx, storefront):
    storefront.answer = lambda i: []
    resp = post(wx, event_xml("unsubscribe"))
    assert resp.status_code == 200 and resp.data == b"success"


@pytest.mark.parametrize("xml,expected", CASES, ids=[str(i) for i in range(len(CASES))])
def test_every_message_and_event_gets_a_valid_answer(wx, storefront, xml, expected):
    resp = post(wx, xml)
    assert resp.status_code == 200
    assert fields(resp.get_data(as_text=True))["MsgType"] == "text"
    assert storefront.calls == [("o-user-1", expected)]


def test_the_real_storefront_records_the_user_and_their_subscription(wx, wx_app, monkeypatch):
    from storefront.storefront import respond

    monkeypatch.setattr(turns, "storefront_respond", respond)

    def subscribed() -> bool:
        db.session.rollback()
        return db.session.query(User).filter_by(openid="o-new").one().subscribed

    post(wx, text_xml("hi", openid="o-new"))
    assert subscribed() is True  # only followers can write to an account
    post(wx, event_xml("unsubscribe", openid="o-new"))
    assert subscribed() is False
    post(wx, event_xml("subscribe", openid="o-new", EventKey="qrscene_d1", Ticket="t"))
    assert subscribed() is True
    assert db.session.query(User).filter_by(openid="o-new").count() == 1


def test_a_failing_storefront_gets_an_apology_not_a_500(wx, storefront, caplog):
    def boom(inbound):
        raise RuntimeError("database on fire")

    storefront.answer = boom
    resp = post(wx, text_xml("hi"))
    assert resp.status_code == 200
    assert "Sorry" in fields(resp.get_data(as_text=True))["Content"]
    assert "database on fire" not in resp.get_data(as_text=True)


def test_unknown_type_reaches_the_storefront_for_help(wx, storefront):
    resp = post(wx, message_xml("hologram"))
    assert resp.status_code == 200
    assert storefront.calls[0][1].kind is InboundKind.OTHER


def _exactly_one_mib() -> bytes:
    shell = text_xml("", msg_id=4242).encode()
    return text_xml("x" * (1024 * 1024 - len(shell)), msg_id=4242).encode()


def test_a_body_of_exactly_one_mib_is_accepted(wx, storefront):
    # With a Content-Length (as WeChat sends); a chunked body that reaches the limit is
    # refused, since Werkzeug's limited stream cannot tell whether more would follow.
    body = _exactly_one_mib()
    assert len(body) == 1024 * 1024
    assert wx.post("/wechat", query_string=signed_query(), data=body).status_code == 200
    assert len(storefront.calls) == 1


def test_webhook_requests_get_no_cookie_session_but_pages_do(wx_app):
    from flask.sessions import NullSession

    interface = wx_app.session_interface
    with wx_app.test_request_context("/wechat", method="POST"):
        from flask import request

        assert isinstance(interface.open_session(wx_app, request), NullSession)
    with wx_app.test_request_context("/h5/orders"):
        from flask import request

        assert not isinstance(interface.open_session(wx_app, request), NullSession)
