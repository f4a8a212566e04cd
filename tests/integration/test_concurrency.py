"""No oversell: concurrent checkouts for the last units of a SKU."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from core.errors import OutOfStock
from core.models import Order, Sku
from shop.checkout import checkout
from shop.domain.addresses import validate_address
from tests.support.factories import make_product, make_user
from tests.support.settings import settings_of
from webapp.extensions import db

ADDRESS = validate_address("王五", "13900139000", "广东省 深圳市", "南山区科技园 8 号")


def _race(app, buyer_ids, sku_id, quantity=1):
    start = threading.Barrier(len(buyer_ids))

    def attempt(buyer_id):
        with app.app_context():
            start.wait()
            try:
                checkout(db.session, settings_of(), buyer_id, [(sku_id, quantity)], ADDRESS)
                return "ok"
            except OutOfStock:
                return "out"
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=len(buyer_ids)) as pool:
        return list(pool.map(attempt, buyer_ids))


def _assert_exactly(app, sku_id, outcomes, sold):
    assert outcomes.count("ok") == sold
    assert outcomes.count("out") == len(outcomes) - sold
    db.session.rollback()  # end any read snapshot (SQLite WAL keeps it)
    assert db.session.get(Sku, sku_id).stock == 0
    assert db.session.scalar(select(func.count()).select_from(Order)) == sold


def test_fifty_concurrent_checkouts_for_ten_units_on_postgres(pg_app):
    buyers = [make_user().id for _ in range(50)]
    _, sku = make_product(stock=10)
    outcomes = _race(pg_app, buyers, sku.id)
    _assert_exactly(pg_app, sku.id, outcomes, 10)


def test_concurrent_checkouts_on_sqlite(app):
    buyers = [make_user().id for _ in range(20)]
    _, sku = make_product(stock=5)
    outcomes = _race(app, buyers, sku.id)
    _assert_exactly(app, sku.id, outcomes, 5)
