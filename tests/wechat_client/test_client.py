"""The official-account client: configuration, the token shared through Redis, stale tokens."""
from __future__ import annotations

import threading
import time

import pytest
from flask import Flask
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

from adapters.wechat.client import ChatShopWeChatClient, client_from_config
from adapters.wechat.token_store import REFRESH_AHEAD_SECONDS, STORAGE_PREFIX
from tests.support.fake_wechat import FakeWeChat
from webapp.clients import wechat_client
from webapp.redis_conn import get_redis


def _new_client(app: Flask) -> ChatShopWeChatClient:
    """A client of its own, as another web or worker process would have."""
    return client_from_config(app.config, get_redis(app))


def _token_key(app: Flask) -> str:
    return f"{STORAGE_PREFIX}:{app.config['WECHAT_APP_ID']}_access_token"


def test_client_is_configured_from_the_app(wx_app: Flask, fake: FakeWeChat):
    client = wechat_client()
    assert client is wechat_client(wx_app)
    assert client.API_BASE_URL == fake.api_base_url
    assert WeChatClient.API_BASE_URL == "https://api.weixin.qq.com/cgi-bin/"
    assert client.timeout == wx_app.config["WECHAT_HTTP_TIMEOUT_SECONDS"]
    assert isinstance(client.session, RedisStorage)
    assert client.appid == wx_app.config["WECHAT_APP_ID"]


def test_sandbox_mode_points_at_the_sandbox(make_app):
    app = make_app(WECHAT_SANDBOX=True, PUBLIC_BASE_URL="http://shop.test")
    client = client_from_config(app.config, get_redis(app))
    assert client.API_BASE_URL == "http://shop.test/sandbox/wechat/cgi-bin/"


@pytest.mark.parametrize("timeout", [0, None, -1])
def test_a_timeout_is_required(wx_app: Flask, timeout):
    with pytest.raises(ValueError, match="timeout"):
        client_from_config({**wx_app.config, "WECHAT_HTTP_TIMEOUT_SECONDS": timeout},
                           get_redis())


def test_token_is_fetched_once_and_shared_through_redis(wx_app: Flask, fake: FakeWeChat):
    first = _new_client(wx_app)
    assert first.access_token == "TOKEN-1"
    second = _new_client(wx_app)
    assert second.access_token == "TOKEN-1"
    assert fake.token_calls == 1
    # wechatpy's RedisStorage layout, with a TTL a little under WeChat's expires_in.
    ttl = get_redis().ttl(_token_key(wx_app))
    assert 7200 - 120 < ttl <= 7200 - 60


def test_eight_threads_at_once_make_one_token_call(wx_app: Flask, fake: FakeWeChat):
    fake.token_delay = 0.3
    clients = [_new_client(wx_app) for _ in range(8)]
    barrier = threading.Barrier(len(clients))
    tokens: list[str] = []
    errors: list[BaseException] = []

    def ask(client: ChatShopWeChatClient) -> None:
        try:
            barrier.wait()
            tokens.append(client.access_token)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors
    assert tokens == ["TOKEN-1"] * 8
    assert fake.token_calls == 1


def test_calls_carry_the_shared_token(wx_app: Flask, fake: FakeWeChat):
    wechat_client().message.send_text("o-user", "你好")
    assert fake.sent == [{"touser": "o-user", "msgtype": "text", "text": {"content": "你好"}}]
    assert fake.token_calls == 1


def test_a_stale_token_is_refreshed_once_and_the_call_retried(wx_app: Flask, fake: FakeWeChat):
    client = wechat_client()
    assert client.access_token == "TOKEN-1"
    fake.revoked.add("TOKEN-1")
    client.message.send_text("o-user", "again")
    assert fake.token_calls == 2
    assert len(fake.sent) == 1
    assert client.token.stored() == "TOKEN-2"


def test_a_token_refreshed_by_another_process_is_used_without_fetching(
    wx_app: Flask, fake: FakeWeChat
):
    mine = _new_client(wx_app)
    assert mine.access_token == "TOKEN-1"
    other = _new_client(wx_app)
    # Another process found TOKEN-1 refused and fetched TOKEN-2; WeChat now refuses TOKEN-1.
    other.fetch_access_token()
    fake.revoked.add("TOKEN-1")
    mine.message.send_text("o-user", "hi")
    assert fake.token_calls == 2
    assert len(fake.sent) == 1


def test_a_second_refusal_is_raised_not_looped(wx_app: Flask, fake: FakeWeChat):
    client = wechat_client()
    fake.send_script = [40001, 40001, 40001]
    with pytest.raises(WeChatClientException) as caught:
        client.message.send_text("o-user", "x")
    assert caught.value.errcode == 40001
    assert fake.token_calls == 2
    assert fake.send_script == [40001]


def test_other_errors_are_not_retried(wx_app: Flask, fake: FakeWeChat):
    fake.send_script = [45047]
    with pytest.raises(WeChatClientException) as caught:
        wechat_client().message.send_text("o-user", "x")
    assert caught.value.errcode == 45047
    assert fake.token_calls == 1


def test_a_refused_secret_is_reported_and_frees_the_lock(make_app, fake: FakeWeChat):
    app = make_app(WECHAT_API_BASE_URL=fake.api_base_url, WECHAT_APP_SECRET="wrong-secret")
    with app.app_context():
        get_redis().flushdb()
        client = _new_client(app)
        with pytest.raises(WeChatClientException) as caught:
            _ = client.access_token
        assert caught.value.errcode == 40125
        assert not get_redis().exists(client.token.lock_key)


def test_a_crashed_refresher_is_taken_over_after_its_lock_expires(
    wx_app: Flask, fake: FakeWeChat
):
    client = _new_client(wx_app)
    get_redis().set(client.token.lock_key, "dead-process", px=300)
    started = time.monotonic()
    assert client.access_token == "TOKEN-1"
    assert time.monotonic() - started >= 0.25
    assert fake.token_calls == 1


def test_a_token_near_its_end_is_replaced_by_one_process(wx_app: Flask, fake: FakeWeChat):
    client = _new_client(wx_app)
    assert client.access_token == "TOKEN-1"
    get_redis().expire(_token_key(wx_app), REFRESH_AHEAD_SECONDS - 10)
    assert _new_client(wx_app).access_token == "TOKEN-2"
    assert _new_client(wx_app).access_token == "TOKEN-2"
    assert fake.token_calls == 2


def test_a_token_near_its_end_is_kept_while_another_process_refreshes(
    wx_app: Flask, fake: FakeWeChat
):
    client = _new_client(wx_app)
    assert client.access_token == "TOKEN-1"
    get_redis().expire(_token_key(wx_app), REFRESH_AHEAD_SECONDS - 10)
    get_redis().set(client.token.lock_key, "another-process", px=5000)
    started = time.monotonic()
    assert _new_client(wx_app).access_token == "TOKEN-1"
    assert time.monotonic() - started < 0.5
    assert fake.token_calls == 1
