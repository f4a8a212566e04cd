"""Migrations are the only way the schema is built outside tests, so they must match the models."""
from __future__ import annotations

import subprocess
import sys

from alembic.script import ScriptDirectory
from flask_migrate import upgrade
from sqlalchemy import inspect

from tests.support.postgres import create_database
from webapp import MIGRATIONS_DIR
from webapp.extensions import db


def test_single_head(app):
    config = app.extensions["migrate"].migrate.get_config(MIGRATIONS_DIR)
    script = ScriptDirectory.from_config(config)
    assert len(script.get_heads()) == 1


def _check_upgrade_matches_models(app):
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        tables = set(inspect(db.engine).get_table_names())
        assert {t.name for t in db.metadata.sorted_tables} <= tables
        db.engine.dispose()


def test_upgrade_on_sqlite_then_no_pending_changes(make_app, tmp_path):
    app = make_app("sqlite:///" + str(tmp_path / "mig.sqlite3"))
    _check_upgrade_matches_models(app)
    env = {"DATABASE_URL": app.config["DATABASE_URL"], "CHATSHOP_INSTANCE_PATH": str(tmp_path),
           "REDIS_URL": "redis://unused", "PATH": "/usr/bin:/bin",
           # Development settings: only sandbox mode accepts them (core.settings_check).
           "WECHAT_SANDBOX": "1"}
    result = subprocess.run([sys.executable, "-m", "webapp.cli", "db", "check"],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_upgrade_on_postgres_then_no_pending_changes(make_app, postgres_server, tmp_path):
    create_database(postgres_server.admin_url, "chatshop_migrations")
    url = postgres_server.url("chatshop_migrations")
    app = make_app(url)
    _check_upgrade_matches_models(app)
    env = {"DATABASE_URL": url, "CHATSHOP_INSTANCE_PATH": str(tmp_path),
           "REDIS_URL": "redis://unused", "PATH": "/usr/bin:/bin",
           # Development settings: only sandbox mode accepts them (core.settings_check).
           "WECHAT_SANDBOX": "1"}
    result = subprocess.run([sys.executable, "-m", "webapp.cli", "db", "check"],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
