"""``chatshop seed demo``, ``chatshop users ...`` and ``chatshop worker`` through the CLI runner."""
from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.clock import utcnow
from core.models import (
    Address,
    Category,
    Order,
    OrderStatus,
    Product,
    ProductStatus,
    Role,
    Sku,
    Supplier,
    User,
    UserRole,
)
from shop.auth import user_for_token
from tests.support.settings import settings_of
from webapp.extensions import db

TOKEN = re.compile(r"\b(cs_[A-Za-z0-9_-]{20,})")


def _count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def _holders(role: Role) -> list[User]:
    return list(db.session.scalars(select(User).join(UserRole).where(UserRole.role == str(role))))


def _table_counts() -> dict[str, int]:
    return {m.__name__: _count(m) for m in (Supplier, Category, Product, Sku, User, Address)}


def _seed(runner) -> list[str]:
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    return TOKEN.findall(result.output)


class ChatshopRunner:
    """Runs ``chatshop`` sub-commands against the test app."""

    def __init__(self, app) -> None:
        self._runner = app.test_cli_runner()

    def invoke(self, args: list[str]):
        from webapp.cli import main

        return self._runner.invoke(main, args=args)


@pytest.fixture
def runner(app):
    return ChatshopRunner(app)


def test_seed_demo_creates_a_believable_shop(app, runner):
    tokens = _seed(runner)

    assert _count(Supplier) >= 2
    assert _count(Category) >= 3
    products = db.session.scalars(select(Product)).all()
    active = [p for p in products if p.status == ProductStatus.ACTIVE]
    assert len(active) >= 12
    for product in active:
        assert re.search(r"[\u4e00-\u9fff]", product.title), product.title
        assert re.match(r"[A-Z][A-Za-z]", product.description), "English subtitle first"
        assert product.skus
        for sku in product.skus:
            assert sku.code
            assert 0 < sku.supply_price_fen < sku.price_fen
            assert sku.stock > 0
    consumers = _holders(Role.CONSUMER)
    assert len(consumers) >= 3
    assert all(u.openid and u.openid.startswith("o-demo-") for u in consumers)
    assert _holders(Role.DISTRIBUTOR)
    assert len(_holders(Role.OPERATOR)) == 1
    staff = _holders(Role.SUPPLIER)
    assert {u.supplier_id for u in staff} == set(db.session.scalars(select(Supplier.id)))

    # Tokens for the operator, one per supplier and one buyer, each authenticating its owner.
    assert len(tokens) == 1 + _count(Supplier) + 1
    owners = [user_for_token(db.session, t) for t in tokens]
    assert owners[0].has_role(Role.OPERATOR)
    assert {u.supplier_id for u in owners[1:-1]} == {u.supplier_id for u in staff}
    assert owners[-1].openid == "o-demo-xiaoming"


def test_seed_demo_twice_creates_nothing_new_but_fresh_tokens(app, runner):
    first = _seed(runner)
    counts = _table_counts()
    second = _seed(runner)
    assert _table_counts() == counts
    assert len(second) == len(first) and not set(first) & set(second)
    assert all(user_for_token(db.session, t) is not None for t in first + second)


def test_every_seeded_product_image_is_served(app, runner):
    _seed(runner)
    client = app.test_client()
    for product in db.session.scalars(select(Product)):
        assert product.image_url.startswith(app.static_url_path + "/products/")
        relative = product.image_url.removeprefix(app.static_url_path + "/")
        assert os.path.isfile(os.path.join(app.static_folder, relative)), product.image_url
        response = client.get(product.image_url)
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
        assert product.title.encode() in response.data
        response.close()


def test_users_token_prints_a_token_that_authenticates(app, runner):
    _seed(runner)
    by_openid = runner.invoke(args=["users", "token", "o-demo-xiaoming"])
    assert by_openid.exit_code == 0, by_openid.output
    token = by_openid.stdout.strip()
    assert user_for_token(db.session, token).openid == "o-demo-xiaoming"

    operator = _holders(Role.OPERATOR)[0]
    by_id = runner.invoke(args=["users", "token", str(operator.id)])
    assert user_for_token(db.session, by_id.stdout.strip()).id == operator.id

    unknown = runner.invoke(args=["users", "token", "o-nobody"])
    assert unknown.exit_code != 0
    assert "no user" in unknown.output


def test_users_list_shows_everyone_with_roles(app, runner):
    _seed(runner)
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0, result.output
    assert "o-demo-hanmeimei" in result.stdout and "distributor" in result.stdout
    operators = runner.invoke(args=["users", "list", "--role", "operator"]).stdout
    assert "operator" in operators and "o-demo-" not in operators


# RQ's worker forks one process per job while its pub/sub thread runs.
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_worker_burst_runs_queued_jobs(app, runner, keep_signal_handlers):
    from core.queues import get_queue
    from shop import checkout
    from shop.domain.addresses import validate_address
    from tests.support.factories import make_product, make_user
    from webapp.redis_conn import get_redis
    from workers import jobs

    _, sku = make_product(stock=3)
    address = validate_address("李四", "13900139000", "北京市", "长安街 1 号院")
    order = checkout.checkout(db.session, settings_of(), make_user().id, [(sku.id, 1)], address)
    order.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    order_id = order.id
    get_queue("default", get_redis()).enqueue(jobs.cancel_expired_orders)
    db.session.remove()

    result = runner.invoke(args=["worker", "--burst", "--queues", "default"])
    assert result.exit_code == 0, result.output
    assert db.session.get(Order, order_id).status == OrderStatus.CANCELLED


def test_worker_refuses_unknown_queues(runner):
    result = runner.invoke(args=["worker", "--burst", "--queues", "emails"])
    assert result.exit_code == 2
    assert "unknown queue" in result.output
