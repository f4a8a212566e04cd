"""One seeded SQLite app per test module of the hostile-input corpus."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hostile.support import World, build_world, world_app
from webapp.extensions import db
from webapp.http import wechat
from webapp.redis_conn import get_redis


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[World]:
    """The module's seeded world; its app context stays pushed for the whole module."""
    tmp = tmp_path_factory.mktemp("hostile")
    app = world_app(tmp, redis_url)
    with app.app_context():
        built = build_world(app, tmp)
        yield built
        wechat.shutdown_turns(app)
        db.session.remove()
        db.engine.dispose()
        get_redis().flushdb()
