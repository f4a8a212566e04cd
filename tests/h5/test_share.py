"""The share link /r/<invite code>: WeChat OAuth, binding with source "link", what the page says."""
from __future__ import annotations

import html
from typing import Any

import requests
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.models import AuditEntry, Distributor, ReferralBinding, Role, User
from referral.domain.codes import new_invite_code
from sandbox import oa
from tests.support.factories import make_user
from tests.support.h5 import RealModeApp, callback_path, oauth_target, signed_in_browser
from tests.support.live_server import LiveSandbox
from webapp.extensions import db

VISITOR = "o-share-visitor"


def _distributor(nickname: str = "Alice", status: str = "active",
                 openid: str | None = None) -> tuple[User, str]:
    user = make_user(Role.CONSUMER, Role.DISTRIBUTOR, openid=openid)
    user.nickname = nickname
    code = new_invite_code()
    db.session.add(Distributor(user_id=user.id, status=status, invite_code=code))
    db.session.commit()
    return user, code


def _open(client: FlaskClient, real: RealModeApp, path: str, openid: str = VISITOR) -> Any:
    """Open ``path`` signed out, come back from OAuth as ``openid``: the page then shown."""
    first = client.get(path)
    assert first.status_code == 302
    code = f"code-{openid}-{len(real.wechat.codes)}"
    real.wechat.codes[code] = openid
    back = client.get(callback_path(first.headers["Location"], code))
    assert back.status_code == 302
    return client.get(back.headers["Location"])


def _binding(openid: str) -> ReferralBinding | None:
    db.session.expire_all()
    return db.session.scalar(
        select(ReferralBinding).join(User, User.id == ReferralBinding.user_id)
        .where(User.openid == openid))


def _audits(action: str) -> int:
    return int(db.session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)) or 0)


def _text(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_the_link_signs_in_with_oauth_then_binds(real_mode: RealModeApp):
    alice, code = _distributor("Alice")
    client = real_mode.app.test_client()
    first = client.get(f"/r/{code}")
    assert first.status_code == 302
    base, query = oauth_target(first.headers["Location"])
    assert base == "https://open.weixin.qq.com/connect/oauth2/authorize"
    assert query["scope"] == "snsapi_base"
    assert query["redirect_uri"] == "http://chatshop.test/h5/oauth/callback"
    assert _binding(VISITOR) is None  # nothing happens before the visitor is known

    real_mode.wechat.codes["c1"] = VISITOR
    back = client.get(callback_path(first.headers["Location"], "c1"))
    assert back.status_code == 302 and back.headers["Location"] == f"/r/{code}"
    page = client.get(f"/r/{code}")
    assert page.status_code == 200
    assert "You joined Alice's shop" in _text(page)
    assert 'data-outcome="joined"' in _text(page)
    binding = _binding(VISITOR)
    assert binding is not None and binding.upline_id == alice.id
    assert binding.source == "link" and binding.scene == code
    assert page.headers["Cache-Control"] == "no-store"

    again = client.get(f"/r/{code}")  # the same link opened twice binds once
    assert again.status_code == 200 and "already in Alice's shop" in _text(again)
    assert _audits("referral.bound") == 1


def test_a_typed_variant_of_the_code_lands_on_the_canonical_link(real_mode: RealModeApp):
    alice, code = _distributor()
    client = real_mode.app.test_client()
    first = client.get(f"/r/{code[:4].lower()}-{code[4:].lower()}")
    assert first.status_code == 302
    real_mode.wechat.codes["c2"] = VISITOR
    back = client.get(callback_path(first.headers["Location"], "c2"))
    assert back.headers["Location"] == f"/r/{code}"
    assert _binding(VISITOR) is None
    assert client.get(back.headers["Location"]).status_code == 200
    assert _binding(VISITOR).upline_id == alice.id  # type: ignore[union-attr]


def test_unknown_codes_are_not_found_without_signing_in(real_mode: RealModeApp):
    client = real_mode.app.test_client()
    for path in ("/r/ZZZZ2222", "/r/not-a-code", "/r/" + "A" * 40, "/r/%3Cscript%3E"):
        page = client.get(path)
        assert page.status_code == 404, path
        assert "Unknown invite code" in _text(page)
        assert "<script>" not in page.get_data(as_text=True)


def test_ones_own_link_is_refused_with_an_explanation(real_mode: RealModeApp):
    alice, code = _distributor("Alice", openid=VISITOR)
    page = _open(real_mode.app.test_client(), real_mode, f"/r/{code}")
    assert page.status_code == 200
    assert "This is your own invite link" in _text(page)
    assert _binding(VISITOR) is None
    assert _audits("referral.bind_refused") == 1 and _audits("referral.bound") == 0


def test_an_inactive_distributors_link_explains(real_mode: RealModeApp):
    _, code = _distributor("Frozen Fred", status="frozen")
    page = _open(real_mode.app.test_client(), real_mode, f"/r/{code}")
    assert page.status_code == 200
    assert "Frozen Fred's shop is not taking new members" in _text(page)
    assert _binding(VISITOR) is None


def test_the_first_distributor_keeps_the_visitor(real_mode: RealModeApp):
    alice, alice_code = _distributor("Alice")
    _, bob_code = _distributor("Bob")
    client = real_mode.app.test_client()
    _open(client, real_mode, f"/r/{alice_code}")
    page = client.get(f"/r/{bob_code}")
    assert page.status_code == 200
    assert "You are already with Alice's shop" in _text(page)
    assert _binding(VISITOR).upline_id == alice.id  # type: ignore[union-attr]


def test_the_distributors_cached_qr_code_helps_to_follow(real_mode: RealModeApp):
    alice, code = _distributor("Alice")
    record = db.session.get(Distributor, alice.id)
    assert record is not None
    record.qr_ticket = "gQcached/ticket"
    record.qr_url = "http://weixin.qq.com/q/abc"
    db.session.commit()
    page = _open(real_mode.app.test_client(), real_mode, f"/r/{code}")
    assert f'src="{real_mode.wechat.api_base_url}showqrcode?ticket=gQcached%2Fticket"' in (
        page.get_data(as_text=True))
    assert "Press and hold the code to follow" in _text(page)


def test_in_the_sandbox_the_page_leads_to_the_chat(live_sandbox: LiveSandbox):
    alice, code = _distributor("Alice")
    openid = oa.create_consumer("Visitor").openid
    db.session.rollback()
    page = signed_in_browser(live_sandbox, f"/r/{code}", openid)
    assert page.status_code == 200 and page.url == f"{live_sandbox.url}/r/{code}"
    assert "You joined Alice's shop" in html.unescape(page.text)
    assert f'href="{live_sandbox.url}/sandbox/chat"' in page.text
    assert _binding(openid).upline_id == alice.id  # type: ignore[union-attr]
    db.session.rollback()
    assert requests.get(f"{live_sandbox.url}/sandbox/chat", timeout=5).status_code == 200
