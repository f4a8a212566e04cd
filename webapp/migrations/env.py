"""Alembic environment for ChatShop: runs inside the Flask app (Flask-Migrate)."""
from __future__ import annotations

import logging
from typing import Any

from alembic import context
from flask import current_app

from core.models.base import UTCDateTime

logger = logging.getLogger("alembic.env")
config = context.config
database = current_app.extensions["migrate"].db


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render our column types as plain SQLAlchemy types so migrations import nothing of ours."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _options() -> dict[str, Any]:
    return {
        "target_metadata": database.metadata,
        "render_as_batch": True,  # SQLite can only ALTER through table copies
        "compare_type": True,
        "render_item": render_item,
    }


def run_offline() -> None:
    """Emit SQL for the configured URL without connecting."""
    url = database.engine.url.render_as_string(hide_password=False)
    context.configure(url=url, literal_binds=True, **_options())
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Apply migrations over the app's own engine."""

    def skip_empty(ctx: Any, revision: Any, directives: Any) -> None:
        # `db migrate` with no model change should not write an empty revision.
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("no schema changes detected")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", skip_empty)
    conf_args.update(_options())
    with database.engine.connect() as connection:
        context.configure(connection=connection, **conf_args)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
