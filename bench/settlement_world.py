"""The world bench/settlement.py settles: paid orders booked exactly as ChatShop books them.

Bulk-loaded with INSERT ... SELECT generate_series (no ORM), every constraint
and foreign key checked by PostgreSQL. Shape (user ids):

* DISTRIBUTORS active distributors, ids 1..DISTRIBUTORS, in a 5-way tree
  (distributor k > 5 is bound under 1 + (k - 6) / 5); BUYERS consumers after
  them, each bound under one distributor k > 5, so every buyer has a 2-level
  chain (their upline, and that upline's upline);
* SUPPLIERS suppliers, CATEGORIES categories, PRODUCTS products of one SKU;
* orders of LINES_PER_ORDER lines each, paid under plan version 1 (the built-in
  default plan: margin base, 10 % and 5 %, cap 100 %, 7-day return window),
  each with its payment, attribution snapshot, order_referrals rows, line
  splits, commission lines (one per line and level) and its own "order.paid"
  ledger transaction, whose entries are exactly the legs ``book_paid_order``
  posts (clearing, supplier payables, platform revenue with shipping,
  distributors' pending), merged per account; every earning distributor also
  has an (empty) available account, as the payment opens one:
  - MATURED_ORDERS completed 22..32 days ago: their commission lines matured
    15..25 days ago (the lines the settlement job must settle);
  - RECENT_ORDERS completed about 2 days ago: return window still open;
  - OPEN_ORDERS paid or shipped, not completed: matures_at NULL.
* account balances are the sums of their entries.

``bench.expected`` (a schema of its own, invisible to ChatShop) holds, per
world distributor, the available and pending balances the settlement must
leave, computed from the generated lines alone.
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

from bench.support import run_load_steps
from commissions.plan_store import DEFAULT_PLAN, rules_of

DISTRIBUTORS = 4_000
BUYERS = 20_000
SUPPLIERS = 40
CATEGORIES = 8
PRODUCTS = 400
LINES_PER_ORDER = 2
LEVELS = 2  # every buyer's chain
COMMISSIONS_PER_ORDER = LINES_PER_ORDER * LEVELS
MATURED_LINES = int(os.environ.get("BENCH_SETTLE_LINES", "200000"))
MATURED_ORDERS = MATURED_LINES // COMMISSIONS_PER_ORDER
RECENT_ORDERS = 2_500
OPEN_ORDERS = 5_000
ORDERS = MATURED_ORDERS + RECENT_ORDERS + OPEN_ORDERS
UNMATURED_LINES = (RECENT_ORDERS + OPEN_ORDERS) * COMMISSIONS_PER_ORDER
TRANSACTION_ID_PREFIX = "4299"  # tests' fake WeChat transaction ids start 42000

if MATURED_LINES % COMMISSIONS_PER_ORDER:
    raise ValueError(f"BENCH_SETTLE_LINES must be a multiple of {COMMISSIONS_PER_ORDER}")

PLAN = DEFAULT_PLAN
if PLAN.base != "margin" or PLAN.cap_bp != 10_000 or PLAN.levels < LEVELS:
    raise ValueError("the world assumes the default plan: margin base, no binding cap")
RATE_1, RATE_2 = PLAN.rates_bp[0], PLAN.rates_bp[1]
WINDOW = PLAN.return_window_days

# Distributor k > 5 hangs under 1 + (k - 6) / 5; buyer j under 6 + (j * 7919) % (D - 5).
PARENT = "(1 + ({k} - 6) / 5)"
BUYER_UPLINE = f"(6 + ({{j}}::bigint * 7919) % {DISTRIBUTORS - 5})"
TABLES_WITH_IDS = ("users", "suppliers", "categories", "products", "skus", "orders",
                   "order_lines", "payments", "commission_plan_versions", "commission_lines",
                   "ledger_transactions")

LOAD_STEPS: list[tuple[str, list[str]]] = [
    ("users and distributors", [
        f"""INSERT INTO users (id, openid, unionid, nickname, avatar_url, supplier_id,
                               subscribed, created_at)
            SELECT i, 'o-bench-' || i, NULL, 'user' || i, '', NULL, true, BENCH_BASE
            FROM generate_series(1, {DISTRIBUTORS + BUYERS}) i""",
        """INSERT INTO user_roles (user_id, role, granted_at)
           SELECT id, 'consumer', created_at FROM users ORDER BY id""",
        f"""INSERT INTO distributors (user_id, status, invite_code, tier_id, applied_at,
                                      decided_at, decided_by, status_reason)
            SELECT k, 'active', 'BW' || lpad(k::text, 8, '0'), NULL, BENCH_BASE,
                   BENCH_BASE + interval '1 day', NULL, ''
            FROM generate_series(1, {DISTRIBUTORS}) k""",
        f"""INSERT INTO user_roles (user_id, role, granted_at)
            SELECT k, 'distributor', BENCH_BASE + interval '1 day'
            FROM generate_series(1, {DISTRIBUTORS}) k""",
        f"""CREATE TEMP TABLE bench_buyer AS
            SELECT j, {DISTRIBUTORS} + j AS user_id, u.d1, {PARENT.format(k='u.d1')} AS d2
            FROM generate_series(1, {BUYERS}) j
            CROSS JOIN LATERAL (SELECT {BUYER_UPLINE.format(j='j')} AS d1) u""",
        f"""INSERT INTO referral_bindings (user_id, upline_id, source, scene, bound_at,
                                           expires_at)
            SELECT k, {PARENT.format(k='k')}, 'qr', '', BENCH_BASE + interval '2 days',
                   NULL::timestamptz
              FROM generate_series(6, {DISTRIBUTORS}) k
            UNION ALL
            SELECT user_id, d1, 'qr', '', BENCH_BASE + interval '3 days', NULL
              FROM bench_buyer ORDER BY 1""",
    ]),
    ("catalogue and plan", [
        f"""INSERT INTO suppliers (id, name, contact, active, created_at)
            SELECT s, 'Bench supplier ' || s, '', true, BENCH_BASE
            FROM generate_series(1, {SUPPLIERS}) s""",
        f"""INSERT INTO categories (id, name, parent_id, sort_order)
            SELECT c, 'Bench category ' || c, NULL, c FROM generate_series(1, {CATEGORIES}) c""",
        f"""INSERT INTO products (id, supplier_id, category_id, title, description, image_url,
                                  status, created_at, updated_at)
            SELECT p, 1 + (p - 1) % {SUPPLIERS}, 1 + (p / 7) % {CATEGORIES}, 'Bench tea ' || p,
                   '', '', 'active', BENCH_BASE, BENCH_BASE
            FROM generate_series(1, {PRODUCTS}) p""",
        # Prices 5.00 .. 49.00 yuan, supply price 55 % of it.
        f"""INSERT INTO skus (id, product_id, code, name, price_fen, supply_price_fen, stock,
                              version, active)
            SELECT p, p, 'BENCH-' || p, 'standard', 500 + (p * 37 % 45) * 100,
                   (500 + (p * 37 % 45) * 100) * 55 / 100, 1000000, 1, true
            FROM generate_series(1, {PRODUCTS}) p""",
        """INSERT INTO commission_plan_versions (id, version, rules, note, created_at,
                                                 created_by)
           VALUES (1, 1, BENCH_RULES::json, 'bench world', BENCH_BASE, NULL)""",
    ]),
    ("orders, lines, splits, commission lines", [
        # Order k: buyer, status and timeline by range (see the module docstring).
        f"""CREATE TEMP TABLE bench_order AS
            SELECT k, b.user_id AS buyer, b.d1, b.d2,
                   CASE WHEN k <= {MATURED_ORDERS + RECENT_ORDERS} THEN 'completed'
                        WHEN k % 2 = 0 THEN 'shipped' ELSE 'paid' END AS status,
                   t.paid,
                   CASE WHEN k <= {MATURED_ORDERS} THEN t.paid + interval '8 days'
                        WHEN k <= {MATURED_ORDERS + RECENT_ORDERS} THEN t.paid + interval '4 days'
                   END AS completed,
                   CASE WHEN k % 4 = 0 THEN 800 ELSE 0 END AS shipping
            FROM generate_series(1, {ORDERS}) k
            JOIN bench_buyer b ON b.j = 1 + (k::bigint * 104729) % {BUYERS}
            CROSS JOIN LATERAL (SELECT CASE
                WHEN k <= {MATURED_ORDERS}
                    THEN BENCH_NOW - interval '40 days' + make_interval(secs => (k * 7) % 864000)
                WHEN k <= {MATURED_ORDERS + RECENT_ORDERS}
                    THEN BENCH_NOW - interval '6 days' + make_interval(secs => k % 3600)
                ELSE BENCH_NOW - interval '3 days' + make_interval(secs => k % 3600)
                END AS paid) t""",
        f"""CREATE TEMP TABLE bench_line AS
            SELECT l.id, o.k AS order_id, l.p, 1 + (l.p - 1) % {SUPPLIERS} AS supplier_id,
                   1 + (l.p / 7) % {CATEGORIES} AS category_id, s.price_fen, s.supply_price_fen,
                   l.qty, s.price_fen * l.qty AS amount, s.supply_price_fen * l.qty AS supply,
                   (s.price_fen - s.supply_price_fen) * l.qty AS margin,
                   (s.price_fen - s.supply_price_fen) * l.qty * {RATE_1} / 10000 AS c1,
                   (s.price_fen - s.supply_price_fen) * l.qty * {RATE_2} / 10000 AS c2
            FROM bench_order o
            CROSS JOIN LATERAL (
                SELECT (o.k - 1) * {LINES_PER_ORDER} + n AS id,
                       1 + (((o.k - 1) * {LINES_PER_ORDER} + n) * 13) % {PRODUCTS} AS p,
                       1 + ((o.k - 1) * {LINES_PER_ORDER} + n) % 2 AS qty
                FROM generate_series(1, {LINES_PER_ORDER}) n) l
            JOIN skus s ON s.id = l.p""",
        f"""INSERT INTO orders (id, number, buyer_id, status, goods_fen, shipping_fen, total_fen,
                refunded_fen, recipient, phone, shipping_address, buyer_note, attribution,
                created_at, expires_at, paid_at, shipped_at, completed_at, cancelled_at,
                cancel_reason, version)
            SELECT o.k, 'S' || lpad(o.k::text, 12, '0'), o.buyer, o.status, g.goods,
                   o.shipping, g.goods + o.shipping, 0, '收件人', '13800138000',
                   '上海市浦东新区世纪大道 100 号', '',
                   json_build_object('levels', {LEVELS}, 'inactive_upline', 'skip',
                       'source', 'qr', 'members', json_build_array(
                       json_build_object('level', 1, 'distributor_id', o.d1, 'tier', NULL,
                                         'earns', true),
                       json_build_object('level', 2, 'distributor_id', o.d2, 'tier', NULL,
                                         'earns', true))),
                   o.paid - interval '5 minutes', o.paid + interval '25 minutes', o.paid,
                   CASE WHEN o.status IN ('shipped', 'completed') THEN o.paid + interval '1 day'
                   END,
                   o.completed, NULL, '', CASE WHEN o.status = 'paid' THEN 2 ELSE 3 END
            FROM bench_order o
            JOIN (SELECT order_id, sum(amount) AS goods FROM bench_line GROUP BY order_id) g
              ON g.order_id = o.k
            ORDER BY o.k""",
        f"""INSERT INTO payments (id, order_id, out_trade_no, transaction_id, amount_fen, status,
                                  prepay_id, payer_openid, raw_notify, created_at, paid_at)
            SELECT id, id, number, '{TRANSACTION_ID_PREFIX}' || lpad(id::text, 24, '0'),
                   total_fen, 'succeeded', 'wx-prepay-' || number, 'o-bench-' || buyer_id,
                   NULL, created_at, paid_at
            FROM orders ORDER BY id""",
        """INSERT INTO order_referrals (order_id, level, distributor_id, tier_code)
           SELECT o.k, m.level, m.d, NULL
           FROM bench_order o CROSS JOIN LATERAL (VALUES (1, o.d1), (2, o.d2)) m(level, d)
           ORDER BY o.k, m.level""",
        """INSERT INTO order_lines (id, order_id, sku_id, product_id, supplier_id, category_id,
                title, sku_name, unit_price_fen, unit_supply_price_fen, quantity, amount_fen,
                supply_cost_fen, refunded_fen, refunded_quantity)
           SELECT id, order_id, p, p, supplier_id, category_id, 'Bench tea ' || p, 'standard',
                  price_fen, supply_price_fen, qty, amount, supply, 0, 0
           FROM bench_line ORDER BY id""",
        """INSERT INTO line_splits (order_line_id, order_id, supplier_id, plan_version_id,
                paid_fen, supplier_fen, commission_fen, platform_fen, refunded_fen,
                reversed_supplier_fen, reversed_commission_fen, reversed_platform_fen,
                supplier_settled_fen)
           SELECT id, order_id, supplier_id, 1, amount, supply, c1 + c2,
                  amount - supply - c1 - c2, 0, 0, 0, 0, 0
           FROM bench_line ORDER BY id""",
        f"""INSERT INTO commission_lines (id, kind, order_id, order_line_id, distributor_id,
                level, plan_version_id, base_fen, rate_bp, amount_fen, reversed_fen, status,
                return_window_days, matures_at, settled_at, settlement_txn_id, clawback_of,
                created_at)
            SELECT (l.id - 1) * {LEVELS} + m.level, 'commission', l.order_id, l.id, m.d,
                   m.level, 1, l.margin, m.rate, m.fen, 0, 'pending', {WINDOW},
                   o.completed + interval '{WINDOW} days', NULL, NULL, NULL, o.paid
            FROM bench_line l
            JOIN bench_order o ON o.k = l.order_id
            CROSS JOIN LATERAL (VALUES (1, o.d1, {RATE_1}, l.c1),
                                       (2, o.d2, {RATE_2}, l.c2)) m(level, d, rate, fen)
            ORDER BY 1""",
    ]),
    ("ledger", [
        f"""INSERT INTO ledger_accounts (code, kind, owner_id, balance_fen, created_at)
            VALUES ('wechat_clearing', 'wechat_clearing', 0, 0, BENCH_BASE),
                   ('platform_revenue', 'platform_revenue', 0, 0, BENCH_BASE)
            UNION ALL
            SELECT 'supplier_payable:' || s, 'supplier_payable', s, 0, BENCH_BASE
              FROM generate_series(1, {SUPPLIERS}) s
            UNION ALL
            SELECT k || ':' || d, k, d, 0, BENCH_BASE
              FROM (SELECT DISTINCT distributor_id AS d FROM commission_lines) e
              CROSS JOIN (VALUES ('distributor_pending'), ('distributor_available')) v(k)""",
        """INSERT INTO ledger_transactions (id, kind, ref_type, ref_id, idempotency_key, memo,
                                            created_at)
           SELECT id, 'order.paid', 'order', id, 'order.paid:' || id, number, paid_at
           FROM orders ORDER BY id""",
        # The legs of book_paid_order (commissions.accrual.paid_order_legs), merged per account.
        """INSERT INTO ledger_entries (txn_id, account_id, amount_fen)
           SELECT l.txn, a.id, sum(l.fen)
           FROM (SELECT id AS txn, 'wechat_clearing' AS kind, 0 AS owner, -total_fen AS fen
                   FROM orders
                 UNION ALL SELECT id, 'platform_revenue', 0, shipping_fen FROM orders
                 UNION ALL SELECT order_id, 'supplier_payable', supplier_id, supplier_fen
                   FROM line_splits
                 UNION ALL SELECT order_id, 'platform_revenue', 0, platform_fen FROM line_splits
                 UNION ALL SELECT order_id, 'distributor_pending', distributor_id, amount_fen
                   FROM commission_lines) l
           JOIN ledger_accounts a ON a.kind = l.kind AND a.owner_id = l.owner
           GROUP BY l.txn, a.id
           HAVING sum(l.fen) <> 0
           ORDER BY l.txn, a.id""",
        """UPDATE ledger_accounts a SET balance_fen = s.fen
           FROM (SELECT account_id, sum(amount_fen) AS fen FROM ledger_entries
                 GROUP BY account_id) s
           WHERE a.id = s.account_id""",
        "CREATE SCHEMA bench",
        """CREATE TABLE bench.expected AS
           SELECT distributor_id,
                  coalesce(sum(amount_fen) FILTER (WHERE matures_at <= BENCH_NOW), 0)
                      AS available_fen,
                  coalesce(sum(amount_fen) FILTER (WHERE matures_at IS NULL
                                                   OR matures_at > BENCH_NOW), 0) AS pending_fen
           FROM commission_lines GROUP BY distributor_id""",
        *[f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))"
          for t in TABLES_WITH_IDS],
    ]),
]


def load(dsn: str, base: datetime, now: datetime) -> list[tuple[str, float]]:
    """Run LOAD_STEPS (one transaction per step), check, VACUUM ANALYZE; each step's time."""
    literals = {
        "BENCH_BASE": f"'{base.isoformat()}'::timestamptz",
        "BENCH_NOW": f"'{now.isoformat()}'::timestamptz",
        "BENCH_RULES": "'" + json.dumps(rules_of(PLAN)).replace("'", "''") + "'",
    }

    def check(conn: Any) -> None:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE matures_at <= %s), count(*) FROM commission_lines",
            (now,)).fetchone()
        if row != (MATURED_LINES, MATURED_LINES + UNMATURED_LINES):
            raise AssertionError(f"commission lines (matured, all): expected "
                                 f"{(MATURED_LINES, MATURED_LINES + UNMATURED_LINES)}, got {row}")

    return run_load_steps(dsn, LOAD_STEPS, literals, check)
