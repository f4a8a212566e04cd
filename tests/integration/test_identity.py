"""Users appear on first WeChat contact, once."""
from __future__ import annotations

import pytest

from core.errors import InvalidInput
from core.models import AuditEntry, User
from shop.identity import ensure_wechat_user
from webapp.extensions import db


def test_first_contact_creates_a_consumer_once(any_app):
    first = ensure_wechat_user(db.session, "o-new-1", subscribed=True)
    again = ensure_wechat_user(db.session, "o-new-1")
    assert first.id == again.id
    assert first.role_names == ["consumer"] and first.subscribed
    assert db.session.query(User).count() == 1
    assert db.session.query(AuditEntry).filter_by(action="user.created").count() == 1
    ensure_wechat_user(db.session, "o-new-1", subscribed=False)
    db.session.rollback()
    assert db.session.get(User, first.id).subscribed is False


@pytest.mark.parametrize("openid", ["", "x" * 65, "bad\nid"])
def test_invalid_openids_are_refused(any_app, openid):
    with pytest.raises(InvalidInput):
        ensure_wechat_user(db.session, openid)
    assert db.session.query(User).count() == 0
