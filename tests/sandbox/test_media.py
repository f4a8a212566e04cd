"""Temporary media in the sandbox: upload like WeChat validates it, image messages in the chat."""
from __future__ import annotations

import io
import time
from typing import Any

import pytest
import requests
from PIL import Image
from wechatpy.exceptions import WeChatClientException

from sandbox import note_user_message, sent_messages, travel, uploaded_media
from sandbox.oa_api import MEDIA_LIFETIME, MEDIA_RULES
from tests.support.sandbox import Oa

MB = 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png(colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, format="PNG")
    return out.getvalue()


def _upload(oa: Oa, files: Any, media_type: str | None = "image",  # noqa: F811
            token: str | None = None) -> dict[str, Any]:
    params = {"access_token": token if token is not None else oa.token()}
    if media_type is not None:
        params["type"] = media_type
    answer = requests.post(oa.api + "media/upload", params=params, files=files, timeout=30)
    assert answer.status_code == 200
    return dict(answer.json())


def test_an_uploaded_image_is_sent_and_shown_in_the_chat(oa: Oa) -> None:  # noqa: F811
    client = oa.client()
    png = _png()
    before = int(time.time())
    answer = client.media.upload("image", ("poster.png", png, "image/png"))
    assert answer["type"] == "image" and len(answer["media_id"]) >= 32
    assert before - 1 <= answer["created_at"] <= time.time() + 1
    media_id = answer["media_id"]
    assert client.media.download(media_id).content == png

    openid = oa.follower()
    oa.in_app(lambda: note_user_message(openid))
    client.message.send_image(openid, media_id)
    (sent,) = oa.in_app(lambda: sent_messages(openid))
    assert sent["msg"] == {"type": "image", "media_id": media_id,
                           "url": f"/sandbox/chat/media/{media_id}"}

    shown = requests.get(oa.url + sent["msg"]["url"], timeout=5)
    assert shown.status_code == 200 and shown.content == png
    assert shown.headers["Content-Type"] == "image/png"
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    found = oa.in_app(lambda: uploaded_media(media_id))
    assert found is not None and found[0].size == len(png) and found[1] == png


def test_gif_and_jpeg_are_images_too(oa: Oa) -> None:  # noqa: F811
    for name, fmt, kind in (("a.gif", "GIF", "image/gif"), ("b.jpg", "JPEG", "image/jpeg")):
        out = io.BytesIO()
        Image.new("RGB", (8, 8), "blue").save(out, format=fmt)
        answer = _upload(oa, {"media": (name, out.getvalue(), "application/octet-stream")})
        media = oa.in_app(lambda a=answer: uploaded_media(a["media_id"]))
        assert media is not None and media[0].content_type == kind


@pytest.mark.parametrize(("token", "errcode"), [("", 41001), ("forged", 40001)])
def test_upload_needs_a_valid_access_token(oa: Oa, token: str, errcode: int) -> None:  # noqa: F811
    answer = _upload(oa, {"media": ("a.png", _png(), "image/png")}, token=token)
    assert answer["errcode"] == errcode


def test_upload_refuses_what_wechat_refuses(oa: Oa) -> None:  # noqa: F811
    png = _png()
    cases = [
        (dict(files={"media": ("a.png", png, "image/png")}, media_type="file"), 40004),
        (dict(files={"media": ("a.png", png, "image/png")}, media_type=None), 40004),
        (dict(files={"other": ("a.png", png, "image/png")}), 41005),
        (dict(files={"media": ("a.png", b"", "image/png")}), 41005),
        (dict(files={"media": ("a.png", b"<svg/>", "image/png")}), 40005),  # not an image
        (dict(files={"media": ("a.txt", png, "text/plain")}), 40005),  # wrong extension
        (dict(files={"media": ("noextension", png, "image/png")}), 40005),
        (dict(files={"media": ("a.png", png, "image/png")}, media_type="thumb"), 40005),
        (dict(files={"media": ("a.mp3", b"ID3" + b"\0" * 10, "audio/mpeg")},
              media_type="image"), 40005),
    ]
    for kwargs, errcode in cases:
        assert _upload(oa, **kwargs)["errcode"] == errcode, kwargs
    wrong_method = requests.get(oa.api + "media/upload",
                                params={"access_token": oa.token(), "type": "image"}, timeout=5)
    assert wrong_method.json()["errcode"] == 43002


def test_images_up_to_10_mb_only(oa: Oa) -> None:  # noqa: F811
    limit = MEDIA_RULES["image"].max_bytes
    assert limit == 10 * MB  # WeChat's media/upload page: image 10M
    biggest = PNG_SIGNATURE + b"\0" * (limit - len(PNG_SIGNATURE))
    assert _upload(oa, {"media": ("big.png", biggest, "image/png")})["type"] == "image"
    too_big = biggest + b"\0"
    assert _upload(oa, {"media": ("big.png", too_big, "image/png")})["errcode"] == 40009


def test_a_body_far_beyond_the_limit_is_a_size_error(oa: Oa) -> None:  # noqa: F811
    # In-process: a real server may reset a connection whose body it does not read.
    client = oa.app.test_client()
    boundary = "sandbox-test-boundary"
    # Encoded by hand: werkzeug would spool a body this size to a file nobody closes.
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; "
            f"filename=\"huge.png\"\r\nContent-Type: image/png\r\n\r\n").encode()
    body += PNG_SIGNATURE + b"\0" * (12 * MB) + f"\r\n--{boundary}--\r\n".encode()
    answer = client.post("/sandbox/wechat/cgi-bin/media/upload",
                         query_string={"access_token": oa.token(), "type": "image"},
                         data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert answer.status_code == 200 and answer.get_json()["errcode"] == 40009


def test_image_messages_need_a_live_upload(oa: Oa) -> None:  # noqa: F811
    client = oa.client()
    openid = oa.follower()
    oa.in_app(lambda: note_user_message(openid))
    with pytest.raises(WeChatClientException) as unknown:
        client.message.send_image(openid, "no-such-media")
    assert unknown.value.errcode == 40007

    media_id = client.media.upload("image", ("a.png", _png(), "image/png"))["media_id"]
    oa.in_app(lambda: travel(MEDIA_LIFETIME))  # WeChat keeps temporary media 3 days
    oa.in_app(lambda: note_user_message(openid))
    with pytest.raises(WeChatClientException) as expired:
        client.message.send_image(openid, media_id)
    assert expired.value.errcode == 40007
    assert requests.get(f"{oa.url}/sandbox/chat/media/{media_id}", timeout=5).status_code == 404
    gone = requests.get(oa.api + "media/get",
                        params={"access_token": oa.token(), "media_id": media_id}, timeout=5)
    assert gone.json()["errcode"] == 40007
    assert oa.in_app(lambda: sent_messages(openid)) == []
