"""Joining a distributor's team from the chat: a scanned QR code, a typed invite code."""
from __future__ import annotations

import logging

from bots.dialogue import events as ev
from bots.dialogue import intents as it
from core.errors import InvalidInput, NotFound
from core.models import User
from referral.binding import BindingRefused, bind_by_invite_code, bind_by_scene, record_refusal
from referral.distributors import find_by_invite_code
from referral.domain.codes import distributor_in_scene
from referral.domain.rules import BindingSource
from storefront.features.context import ChatUser, Execute

log = logging.getLogger(__name__)


def bind_scene(chat: ChatUser, intent: it.BindScene) -> ev.Event:
    """Bind by the scanned scene; whatever happens, the scan is answered with a welcome."""
    # A refused or failed binding is the shop's business (audit, log), never an error
    # for the user.
    try:
        return _bind_scene(chat, intent)
    except Exception:  # noqa: BLE001 - the log keeps the details
        log.exception("chat: binding user %s by scene %r failed", chat.user_id, intent.scene)
        chat.session.rollback()
        return ev.SceneBound("refused", returning=intent.returning)


def _bind_scene(chat: ChatUser, intent: it.BindScene) -> ev.SceneBound:
    try:
        result = bind_by_scene(chat.session, chat.user_id, intent.scene)
    except BindingRefused as refused:
        record_refusal(chat.session, chat.user_id, BindingSource.QR, intent.scene, refused)
        return ev.SceneBound("refused", returning=intent.returning)
    except (NotFound, InvalidInput):
        # A scene for a user who does not exist (any more), or not a distributor scene:
        # nothing to bind and no rule was asked, so nothing to audit either.
        chat.session.rollback()
        return ev.SceneBound("refused", returning=intent.returning)
    scanned = distributor_in_scene(intent.scene)
    if result.changed:
        return ev.SceneBound("bound", result.upline_name, intent.returning)
    if result.upline_id == scanned:
        return ev.SceneBound("already", result.upline_name, intent.returning)
    return ev.SceneBound("kept", returning=intent.returning)


def bind_invite_code(chat: ChatUser, intent: it.BindInviteCode) -> ev.Event:
    """Bind under the code's distributor; the rules' refusal is audited and worded."""
    action = it.BindInviteCode
    owner = find_by_invite_code(chat.session, intent.code)
    owner_id = owner.user_id if owner is not None else None
    try:
        result = bind_by_invite_code(
            chat.session, chat.user_id, intent.code, BindingSource.INVITE_CODE
        )
    except BindingRefused as refused:
        record_refusal(chat.session, chat.user_id, BindingSource.INVITE_CODE, intent.code,
                       refused)
        return ev.Failed(action, str(refused.code), refused.message)
    except InvalidInput as exc:
        chat.session.rollback()
        return ev.Failed(action, "bad_code", exc.message)
    except NotFound as exc:
        chat.session.rollback()
        return ev.Failed(action, "unknown_code", exc.message)
    if result.changed:
        return ev.InviteCodeBound("bound", result.upline_name)
    if result.upline_id == owner_id:
        return ev.InviteCodeBound("already", result.upline_name)
    current = chat.session.get(User, result.upline_id) if result.upline_id else None
    return ev.InviteCodeBound("kept", current.nickname if current is not None else "")


EXECUTORS: dict[type, Execute] = {
    it.BindScene: bind_scene,
    it.BindInviteCode: bind_invite_code,
}
