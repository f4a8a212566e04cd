"""Bearer-token authentication and role checks for the REST API."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn, cast

from flask import request
from flask_smorest import Api, Blueprint, abort

from core.actors import Actor
from core.models import Role
from shop.auth import user_for_token
from webapp.extensions import db

BEARER_SCHEME = "bearerAuth"
BEARER_SECURITY: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}]
_ACTOR_KEY = "chatshop.api_actor"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="chatshop"'}


def register_security_scheme(api: Api) -> None:
    """Describe the bearer scheme in the OpenAPI document."""
    api.spec.components.security_scheme(
        BEARER_SCHEME,
        {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "cs_<opaque token>",
            "description": "API token issued to a user: `Authorization: Bearer cs_...`",
        },
    )


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _refuse_unauthenticated(token: str | None) -> NoReturn:
    # ChatShopApi logs every refusal, this one included.
    abort(
        401,
        message="a valid bearer token is required" if token is None else "invalid token",
        headers=_CHALLENGE,
    )
    raise AssertionError("abort returned")  # abort always raises; this satisfies the checker


def current_actor() -> Actor:
    """The authenticated caller; aborts 401 (with a Bearer challenge) when there is none."""
    # Cached per request in the WSGI environ, not on ``g``: an app context (and so
    # ``g``) can outlive one request, e.g. in tests or CLI-driven clients.
    cached = request.environ.get(_ACTOR_KEY)
    if cached is not None:
        return cast(Actor, cached)
    token = _bearer_token()
    user = user_for_token(db.session, token) if token else None
    if user is None:
        _refuse_unauthenticated(token)
    actor = Actor.of(user)
    request.environ[_ACTOR_KEY] = actor
    return actor


def require_roles(*roles: Role) -> Actor:
    """The caller, who must hold one of ``roles``: 401 without a token, 403 without the role."""
    actor = current_actor()
    if roles and not any(str(role) in actor.roles for role in roles):
        abort(403, message="this needs the role: " + " or ".join(str(r) for r in roles))
    return actor


def protected(blp: Blueprint, *roles: Role) -> Callable[[Any], Any]:
    """Decorate a view: authenticate (and check roles) first, and document it in OpenAPI.

    Put it outermost (above ``@blp.arguments``) so the caller is refused before the
    body is parsed: an anonymous caller learns nothing from validation messages.
    """

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            require_roles(*roles)
            return func(*args, **kwargs)

        documented = blp.doc(security=BEARER_SECURITY)(wrapper)
        documented = blp.alt_response(401, response="UNAUTHORIZED")(documented)
        if roles:
            documented = blp.alt_response(403, response="FORBIDDEN")(documented)
        return documented

    return decorator
