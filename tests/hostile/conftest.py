"""The hostile-input corpus's fixtures: the shop seeded once, and one app per test module."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from storefront import turns
from tests.support.hostile.support import World, build_world, world_app
from webapp.extensions import db
from webapp.redis_conn import get_redis


@pytest.fixture(scope="session")
def seeded_world(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> World:
    """The demo shop plus orders, payments, a refund and tokens, seeded once per session."""
    tmp = tmp_path_factory.mktemp("hostile-seed")
    app = world_app(tmp, redis_url)
    with app.app_context():
        built = build_world(app, tmp)
        db.engine.dispose()
    return built


@pytest.fixture(scope="module")
def world(seeded_world: World, tmp_path_factory: pytest.TempPathFactory,
          redis_url: str) -> Iterator[World]:
    """The module's own app on a copy of the seeded database (its context pushed throughout)."""
    tmp = tmp_path_factory.mktemp("hostile")
    app = world_app(tmp, redis_url)
    with app.app_context():
        module_world = seeded_world.copy_to(app, tmp)
        yield module_world
        turns.shutdown_turns(app)
        db.session.remove()
        db.engine.dispose()
        get_redis().flushdb()
