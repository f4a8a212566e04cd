"""The sandbox chat page in a real headless Chromium: create a user, talk, see the replies."""
from __future__ import annotations

from typing import Any

import requests
from flask import Response, request
from wechatpy import create_reply, parse_message
from wechatpy.replies import ArticlesReply

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

# Resolves once a reply (or WeChat's failure notice) follows the user's bubble with `text`.
REPLY_AFTER = """(text) => {
  const mine = [...document.querySelectorAll('.msg.in')]
    .filter((m) => m.textContent.includes(text)).pop();
  if (!mine) { return false; }
  const seq = Number(mine.dataset.seq);
  const later = (sel) => [...document.querySelectorAll(sel)]
    .filter((m) => Number(m.dataset.seq) > seq);
  const failed = later('.msg.sys.error');
  if (failed.length) { return 'error: ' + failed[0].textContent; }
  return later('.msg.out').length ? 'reply' : false;
}"""


def _create_user(page: Any, url: str, nickname: str) -> str:
    page.goto(url + "/sandbox/chat")
    page.fill("#nickname", nickname)
    page.click("#create-user")
    page.wait_for_selector("#text:not([disabled])")  # following: the composer opens
    return str(page.eval_on_selector("#user-select", "s => s.value"))


def _say(page: Any, text: str) -> str:
    page.fill("#text", text)
    page.press("#text", "Enter")
    return str(page.wait_for_function(REPLY_AFTER, arg=text).json_value())


def test_send_menu_and_see_the_reply(page: Any, live_sandbox: Any) -> None:
    _app, url = live_sandbox()
    openid = _create_user(page, url, "浏览器买家")
    assert openid.startswith("o-sandbox-")
    page.wait_for_selector(".msg.sys >> text=关注了公众号")

    outcome = _say(page, "菜单")
    assert outcome == "reply", outcome
    reply = page.locator(".msg.out").last
    assert reply.inner_text().strip()


def test_safe_mode_and_a_menu_click(page: Any, live_sandbox: Any) -> None:
    _app, url = live_sandbox(WECHAT_ENCODING_AES_KEY=AES_KEY)
    _create_user(page, url, "安全模式")
    page.check("input[name=mode][value=aes]")
    assert _say(page, "帮助") == "reply"

    before = page.locator(".msg.out").count()
    page.click("#menu button.top >> nth=0")  # 逛逛 -> MENU_CATEGORIES
    page.wait_for_selector(".msg.sys >> text=MENU_CATEGORIES")
    page.wait_for_function(
        "(n) => document.querySelectorAll('.msg.out').length > n "
        "|| document.querySelector('.msg.sys.error')", arg=before,
    )
    errors = page.locator(".msg.sys.error")
    assert errors.count() == 0, errors.all_inner_texts()


def _fake_account(token: str) -> Any:
    """A tiny /wechat stand-in with hostile replies, to test the page's rendering alone."""

    def receive() -> Response:
        message = parse_message(request.get_data())
        base = request.host_url.rstrip("/")
        if message.type != "text":
            return Response("success")
        if message.content == "news":
            reply: Any = ArticlesReply(message=message, articles=[{
                "title": '<img src=x onerror="window.__xss=1">去支付',
                "description": "¥12.00 <script>window.__xss=2</script>",
                "image": base + "/sandbox/chat/sample.svg",
                "url": base + "/sandbox/?order=CS1",
            }])
        else:
            reply = create_reply(
                '<a href="javascript:window.__xss=3">bad</a> and '
                f'<a href="{base}/sandbox/">good</a> {base}/sandbox/chat', message)
        return Response(reply.render(), mimetype="text/xml")

    return receive


def test_replies_render_as_text_and_links_work(page: Any, live_sandbox: Any) -> None:
    app, url = live_sandbox(SANDBOX_CHAT_WEBHOOK_URL="")
    app.config["SANDBOX_CHAT_WEBHOOK_URL"] = url + "/test/fake-wechat"
    app.add_url_rule("/test/fake-wechat", "fake_wechat", _fake_account(app.config["WECHAT_TOKEN"]),
                     methods=["POST"])
    openid = _create_user(page, url, '<b onmouseover="window.__xss=4">nick</b>')

    assert _say(page, "news") == "reply"
    card = page.locator(".msg.out a.card").last
    assert card.get_attribute("href") == url + "/sandbox/?order=CS1"
    assert card.get_attribute("target") == "_blank"
    assert '<img src=x onerror="window.__xss=1">去支付' in card.inner_text()
    assert page.locator(".msg.out a.card img").last.get_attribute("src").endswith("/sample.svg")

    assert _say(page, "links") == "reply"
    bubble = page.locator(".msg.out .bubble").last
    hrefs = bubble.locator("a").evaluate_all("links => links.map((a) => a.getAttribute('href'))")
    assert hrefs == [url + "/sandbox/", url + "/sandbox/chat"]
    assert 'href="javascript' in bubble.inner_text()  # shown as text, not as a link

    # The article opens in the same browser (a new tab, sharing the cookies).
    with page.context.expect_page() as opened:
        card.click()
    tab = opened.value
    tab.wait_for_load_state()
    assert tab.url == url + "/sandbox/?order=CS1" and "WeChat sandbox" in tab.title()
    tab.close()

    # A customer-service message the app sends later shows up by polling.
    cfg = app.config
    token = requests.get(cfg["WECHAT_API_BASE_URL"] + "token", params={
        "grant_type": "client_credential", "appid": cfg["WECHAT_APP_ID"],
        "secret": cfg["WECHAT_APP_SECRET"]}, timeout=5).json()["access_token"]
    sent = requests.post(cfg["WECHAT_API_BASE_URL"] + "message/custom/send",
                         params={"access_token": token}, timeout=5,
                         json={"touser": openid, "msgtype": "text",
                               "text": {"content": "订单已支付 <i>paid</i>"}}).json()
    assert sent["errcode"] == 0, sent
    page.wait_for_selector(".msg.out[data-via=custom] >> text=订单已支付 <i>paid</i>")
    assert page.evaluate("window.__xss") is None
    assert page.locator("#user-select option:checked").inner_text().startswith("<b onmouseover")
