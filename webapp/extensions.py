"""Extension singletons, bound to the app with ``init_app`` in the factory."""
from __future__ import annotations

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from core.db import Base

# Flask-SQLAlchemy over core's declarative base: ``db.metadata is Base.metadata``, so
# create_all, drop_all and Alembic see every model, and ``db.session`` is the app's session.
db = SQLAlchemy(model_class=Base)
migrate = Migrate()
