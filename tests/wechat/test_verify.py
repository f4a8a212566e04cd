"""GET /wechat: WeChat's URL verification."""
from __future__ import annotations

import logging

import pytest

from webapp.http import wechat

VECTOR = {"signature": "899cf89e464efb63f54ddac96b0a0a235f53aa78",
          "timestamp": "1714037059", "nonce": "486452656"}


@pytest.fixture
def vector_client(wx_app, monkeypatch):
    """The app with the published vector's token and a clock just after its timestamp."""
    wx_app.config["WECHAT_TOKEN"] = "AAAAA"
    monkeypatch.setattr(wechat, "clock", lambda: 1714037059 + 5)
    return wx_app.test_client()


def test_published_vector_echoes_echostr_unchanged(vector_client):
    echostr = "7148951362378457212&<b>é"
    resp = vector_client.get("/wechat", query_string={**VECTOR, "echostr": echostr})
    assert resp.status_code == 200
    assert resp.get_data(as_text=True) == echostr
    assert resp.mimetype == "text/plain"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("change,status", [
    ({"echostr": None}, 400),
    ({"signature": None}, 400),
    ({"timestamp": None}, 400),
    ({"nonce": None}, 400),
    ({"timestamp": "soon"}, 400),
    ({"signature": "899cf89e464efb63f54ddac96b0a0a235f53aa79"}, 403),
    ({"signature": "签名"}, 403),
    ({"nonce": "486452657"}, 403),
])
def test_wrong_or_missing_parameters_are_refused(vector_client, change, status, caplog):
    query = {**VECTOR, "echostr": "123", **change}
    with caplog.at_level(logging.INFO, logger="webapp.http.wechat"):
        resp = vector_client.get(
            "/wechat", query_string={k: v for k, v in query.items() if v is not None}
        )
    assert resp.status_code == status
    assert "123" not in resp.get_data(as_text=True)
    assert "refused" in caplog.text


def test_a_stale_signature_is_a_replay(wx_app, monkeypatch):
    wx_app.config["WECHAT_TOKEN"] = "AAAAA"
    monkeypatch.setattr(wechat, "clock", lambda: 1714037059 + 301)
    resp = wx_app.test_client().get("/wechat", query_string={**VECTOR, "echostr": "1"})
    assert resp.status_code == 403
    wx_app.config["WECHAT_TIMESTAMP_WINDOW_SECONDS"] = 600
    resp = wx_app.test_client().get("/wechat", query_string={**VECTOR, "echostr": "1"})
    assert resp.status_code == 200
