"""Invite codes and QR scenes: how a distributor is named in links, chats and codes."""
from __future__ import annotations

import re
import secrets

# No 0/O, 1/I/L: codes are read aloud and typed from posters.
INVITE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
INVITE_LENGTH = 8
SCENE_PREFIX = "dist_"
# WeChat: scene_str is 1..64 characters; a subscribe through a code arrives as "qrscene_<scene>".
MAX_SCENE = 64
_SCENE = re.compile(r"^(?:qrscene_)?dist_([1-9]\d{0,17})$")
_CODE = re.compile(rf"^[{INVITE_ALPHABET}]{{{INVITE_LENGTH}}}$")


def new_invite_code() -> str:
    """A random invite code (about 40 bits: collisions are retried by the caller)."""
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))


def normalise_invite_code(text: str) -> str | None:
    """The canonical form of a typed invite code, or None when it cannot be one."""
    code = re.sub(r"[\s-]", "", text or "").upper()
    return code if _CODE.match(code) else None


def scene_for(user_id: int) -> str:
    """The QR scene string of a distributor."""
    return f"{SCENE_PREFIX}{user_id}"


def distributor_in_scene(scene: str | None) -> int | None:
    """The distributor's user id a scene names ("dist_42" or "qrscene_dist_42"), else None."""
    match = _SCENE.match(scene or "")
    return int(match.group(1)) if match else None
