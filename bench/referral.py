"""Benchmark: the referral tree at a million users on PostgreSQL, through the real services.

Starts a throw-away PostgreSQL cluster, migrates it with the project's
migrations, then bulk-loads (INSERT ... SELECT generate_series, not the ORM)
a tree of 1 000 000 users, timed separately and not part of RESULT:

* a chain of 10 001 active distributors, ids 1..10 001, 10 000 hops deep
  (id k+1 is at depth k); consumer 113 003 is bound under depth 10 (id 11),
  consumer 113 023 under depth 10 000 (id 10 001);
* team head T (id 10 002, under depth 5) with exactly 100 000 descendants:
  50 distributors under T, 1 000 under those, 500 consumers directly under T,
  450 under the first 50 and 98 000 under the 1 000;
* a bushy part: 3 000 distributors in 5-way trees (8 of the roots hang off the
  chain at depths 3..7 003), 2% of them frozen and 1% revoked; 887 998
  consumers, 5% unbound, 5% under chain members, the rest under the bushy
  distributors (skewed towards the top ones);
* about 290 000 paid (shipped, completed, refunded ...) orders, 200 000 of them
  bought by T's team, each with its attribution snapshot (orders.attribution)
  and its order_referrals rows at levels 1..3; referral settings: 3 levels
  (the hard maximum, acknowledged), inactive uplines skipped.

Every constraint and foreign key is checked by PostgreSQL during the load
(nothing is disabled); VACUUM ANALYZE follows. Then, in a Flask app context,
through the service functions themselves:

* bind_ms: median of ``referral.binding.bind`` (QR source, with its commit and
  audit row) for 200 brand-new consumers, under chain members at depths 0..9 900
  and under active bushy distributors;
* chain_ms_depth10 / chain_ms_depth10000: median of
  ``referral.attribution.chain_snapshot`` for the consumer under depth 10 and
  the one under depth 10 000, CHAIN_REPS calls each, interleaved (alternating
  which goes first), each in a fresh transaction (as at payment);
  depth_ratio = chain_ms_depth10000 / chain_ms_depth10 (target <= 1.5);
* team_stats_ms: median of ``referral.tree.team_stats`` for T over the last 90
  days (whole-team head count by a recursive query, sales by level).

Answers are checked so that a fast wrong one fails: both chains (ids, levels,
tiers, earns), every binding made, T's team size (100 000), direct downline
and sales/orders by level against totals computed from the generated orders.
The plans of the walk-up and team queries (captured from the services' own
SQL) are summarised; BENCH_EXPLAIN=1 prints them in full.

Last line: RESULT bind_ms=… chain_ms_depth10=… chain_ms_depth10000=…
depth_ratio=… team_stats_ms=…
"""
from __future__ import annotations

import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import captured_sql, migrated_postgres, run_load_steps  # noqa: E402

BIN = Path(sys.executable).parent
CHAIN_REPS = int(os.environ.get("BENCH_CHAIN_REPS", "400"))
BIND_COUNT = int(os.environ.get("BENCH_BIND_COUNT", "200"))
TEAM_REPS = int(os.environ.get("BENCH_TEAM_REPS", "15"))
EXPLAIN = os.environ.get("BENCH_EXPLAIN", "") not in ("", "0")
TARGET_DEPTH_RATIO = 1.5

# The shape of the tree (user ids); see the module docstring.
USERS = 1_000_000
CHAIN_DEPTH = 10_000  # chain ids 1..CHAIN_DEPTH + 1; id k + 1 is at depth k
TEAM_HEAD = 10_002  # bound under depth 5 (id 6)
TEAM_HEAD_UPLINE = 6
L1 = (10_003, 10_052)  # 50 distributors under the team head
L2 = (10_053, 11_052)  # 1 000 distributors, 20 under each L1
HEAD_CONSUMERS = (11_053, 11_552)  # 500 consumers directly under the team head
L1_CONSUMERS = (11_553, 12_002)  # 450 consumers under the L1 distributors
L2_CONSUMERS = (12_003, 110_002)  # 98 000 consumers under the L2 distributors
TEAM_SIZE = 100_000
BUSHY = (110_003, 113_002)  # 3 000 distributors
CONSUMERS = (113_003, USERS)
SHALLOW_BUYER, SHALLOW_UPLINE = 113_003, 11  # upline at depth 10
DEEP_BUYER, DEEP_UPLINE = 113_023, CHAIN_DEPTH + 1  # upline at depth 10 000
TEAM_ORDERS = 200_000
OTHER_ORDERS = 100_000  # candidates; those whose 3 uplines are all active are kept
LEVELS = 3
WINDOW_DAYS = 90
SALE_STATUSES = ("paid", "shipped", "completed", "refunding", "partially_refunded")
TIERS = {1: "bronze", 2: "silver", 3: "gold"}


def _bushy_status(j: int) -> str:
    """Status of bushy distributor number j (leaves only are frozen or revoked)."""
    if j >= 600 and j % 40 == 0:
        return "frozen"
    if j >= 600 and j % 120 == 7:
        return "revoked"
    return "active"


def _chain_tier(user_id: int) -> str:
    return TIERS[1 + user_id % 3]


# --- bulk load -------------------------------------------------------------------------

INVITE_CODE_FN = """
CREATE FUNCTION pg_temp.bench_code(x bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT string_agg(substr('23456789ABCDEFGHJKMNPQRSTUVWXYZ',
                           (((x * 1000003) % 852891037441) / d % 31)::int + 1, 1), ''
                    ORDER BY p)
  FROM unnest(ARRAY[1, 31, 961, 29791, 923521, 28629151, 887503681,
                    27512614111]::bigint[]) WITH ORDINALITY AS t(d, p)
$$"""  # 8 letters of referral.domain.codes' alphabet; a bijection of the id, so unique

# created_at of user i: BENCH_BASE (a literal, put in at run time) + i * 31.5 s (a year
# for a million users).
CREATED = "(BENCH_BASE + {i} * interval '31.5 seconds')"

LOAD_STEPS: list[tuple[str, list[str]]] = [
    ("users", [
        f"""INSERT INTO users (id, openid, unionid, nickname, avatar_url, supplier_id,
                                subscribed, created_at)
            SELECT i, 'o-bench-' || i, NULL, 'user' || i, '', NULL, i % 17 <> 0,
                   {CREATED.format(i='i')}
            FROM generate_series(1, {USERS}) i""",
        f"SELECT setval(pg_get_serial_sequence('users', 'id'), {USERS})",
        """INSERT INTO user_roles (user_id, role, granted_at)
           SELECT id, 'consumer', created_at FROM users ORDER BY id""",
    ]),
    ("distributors", [
        """INSERT INTO distributor_tiers (id, code, name, rank, min_own_spend_fen,
               min_own_sales_fen, min_team_sales_fen, min_completed_orders, created_at)
           VALUES (1, 'bronze', 'Bronze', 1, 0, 0, 0, 0, BENCH_BASE),
                  (2, 'silver', 'Silver', 2, 0, 100000, 1000000, 5, BENCH_BASE),
                  (3, 'gold', 'Gold', 3, 0, 1000000, 20000000, 50, BENCH_BASE)""",
        "SELECT setval(pg_get_serial_sequence('distributor_tiers', 'id'), 3)",
        INVITE_CODE_FN,
        f"""CREATE TEMP TABLE bench_dist AS
            SELECT i AS user_id, 'active'::text AS status, 1 + i % 3 AS tier_id
              FROM generate_series(1, {CHAIN_DEPTH + 1}) i
            UNION ALL SELECT {TEAM_HEAD}, 'active', 3
            UNION ALL SELECT i, 'active', 2 FROM generate_series({L1[0]}, {L1[1]}) i
            UNION ALL SELECT i, 'active', 1 + i % 2 FROM generate_series({L2[0]}, {L2[1]}) i
            UNION ALL
            SELECT {BUSHY[0]} + j,
                   CASE WHEN j >= 600 AND j % 40 = 0 THEN 'frozen'
                        WHEN j >= 600 AND j % 120 = 7 THEN 'revoked' ELSE 'active' END,
                   CASE WHEN j % 7 = 0 THEN NULL ELSE 1 + j % 3 END
              FROM generate_series(0, {BUSHY[1] - BUSHY[0]}) j""",
        f"""INSERT INTO distributors (user_id, status, invite_code, tier_id, applied_at,
                                      decided_at, decided_by, status_reason)
            SELECT d.user_id, d.status, pg_temp.bench_code(d.user_id), d.tier_id,
                   {CREATED.format(i='d.user_id')} + interval '2 hours',
                   {CREATED.format(i='d.user_id')} + interval '1 day', NULL,
                   CASE WHEN d.status = 'active' THEN '' ELSE 'bench' END
            FROM bench_dist d ORDER BY d.user_id""",
        """INSERT INTO user_roles (user_id, role, granted_at)
           SELECT user_id, 'distributor', applied_at FROM distributors ORDER BY user_id""",
    ]),
    ("referral_bindings", [
        f"""CREATE TEMP TABLE bench_bind AS
            SELECT i AS user_id, i - 1 AS upline_id FROM generate_series(2, {CHAIN_DEPTH + 1}) i
            UNION ALL SELECT {TEAM_HEAD}, {TEAM_HEAD_UPLINE}
            UNION ALL SELECT i, {TEAM_HEAD} FROM generate_series({L1[0]}, {L1[1]}) i
            UNION ALL SELECT i, {L1[0]} + (i - {L2[0]}) / 20
                        FROM generate_series({L2[0]}, {L2[1]}) i
            UNION ALL SELECT i, {TEAM_HEAD}
                        FROM generate_series({HEAD_CONSUMERS[0]}, {HEAD_CONSUMERS[1]}) i
            UNION ALL SELECT i, {L1[0]} + (i - {L1_CONSUMERS[0]}) % 50
                        FROM generate_series({L1_CONSUMERS[0]}, {L1_CONSUMERS[1]}) i
            UNION ALL SELECT i, {L2[0]} + (i - {L2_CONSUMERS[0]}) % 1000
                        FROM generate_series({L2_CONSUMERS[0]}, {L2_CONSUMERS[1]}) i
            UNION ALL SELECT {BUSHY[0]} + j, j * 1000 + 4 FROM generate_series(0, 7) j
            UNION ALL SELECT {BUSHY[0]} + j, {BUSHY[0]} + j / 5
                        FROM generate_series(10, {BUSHY[1] - BUSHY[0]}) j
            UNION ALL
            SELECT {CONSUMERS[0]} + k,
                   CASE WHEN k % 20 = 1 THEN 1 + (k::bigint * 7919) % {CHAIN_DEPTH + 1}
                        ELSE {BUSHY[0]} + floor(3000 * power(
                            ((k::bigint * 2654435761) % 1000000) / 1e6, 2))::int END
              FROM generate_series(0, {CONSUMERS[1] - CONSUMERS[0]}) k
             WHERE k % 20 <> 0
            UNION ALL SELECT {SHALLOW_BUYER}, {SHALLOW_UPLINE}
            UNION ALL SELECT {DEEP_BUYER}, {DEEP_UPLINE}""",
        f"""INSERT INTO referral_bindings (user_id, upline_id, source, scene, bound_at,
                                           expires_at)
            SELECT b.user_id, b.upline_id,
                   CASE b.user_id % 10 WHEN 0 THEN 'link' WHEN 1 THEN 'invite_code'
                                       ELSE 'qr' END,
                   CASE WHEN b.user_id % 10 > 1 THEN 'qrscene_dist_' || b.upline_id
                        WHEN b.user_id % 10 = 1 THEN pg_temp.bench_code(b.upline_id)
                        ELSE '' END,
                   {CREATED.format(i='b.user_id')} + interval '1 minute', NULL
            FROM bench_bind b ORDER BY b.user_id""",
        f"""INSERT INTO referral_settings (id, eligibility, eligibility_spend_fen, binding_mode,
                binding_days, levels, three_levels_acknowledged, inactive_upline, updated_at,
                updated_by)
            VALUES (1, 'manual', 0, 'first_touch', NULL, {LEVELS}, true, 'skip', BENCH_BASE,
                    NULL)""",
    ]),
    ("orders", [
        # Buyers whose three nearest uplines are active distributors: under the skip rule
        # with 3 levels, those three are exactly the attribution chain.
        f"""CREATE TEMP TABLE bench_sale AS
            SELECT row_number() OVER (ORDER BY c.n) AS id, c.n, c.buyer, b1.source,
                   b1.upline_id AS l1, b2.upline_id AS l2, b3.upline_id AS l3,
                   t1.code AS t1, t2.code AS t2, t3.code AS t3
            FROM (SELECT n, {HEAD_CONSUMERS[0]} + (n::bigint * 7919)
                             % {L2_CONSUMERS[1] - HEAD_CONSUMERS[0] + 1} AS buyer
                    FROM generate_series(1, {TEAM_ORDERS}) n
                  UNION ALL
                  SELECT n, {CONSUMERS[0]} + (n::bigint * 7919)
                             % {CONSUMERS[1] - CONSUMERS[0] + 1}
                    FROM generate_series({TEAM_ORDERS + 1}, {TEAM_ORDERS + OTHER_ORDERS}) n
                 ) c
            JOIN referral_bindings b1 ON b1.user_id = c.buyer
            JOIN distributors d1 ON d1.user_id = b1.upline_id AND d1.status = 'active'
            JOIN referral_bindings b2 ON b2.user_id = b1.upline_id
            JOIN distributors d2 ON d2.user_id = b2.upline_id AND d2.status = 'active'
            JOIN referral_bindings b3 ON b3.user_id = b2.upline_id
            JOIN distributors d3 ON d3.user_id = b3.upline_id AND d3.status = 'active'
            LEFT JOIN distributor_tiers t1 ON t1.id = d1.tier_id
            LEFT JOIN distributor_tiers t2 ON t2.id = d2.tier_id
            LEFT JOIN distributor_tiers t3 ON t3.id = d3.tier_id""",
        # n % 100: 70 completed, 15 paid, 8 shipped, 4 refunded, 3 partially refunded;
        # paid up to a year ago.
        f"""INSERT INTO orders (id, number, buyer_id, status, goods_fen, shipping_fen, total_fen,
                refunded_fen, recipient, phone, shipping_address, buyer_note, attribution,
                created_at, expires_at, paid_at, shipped_at, completed_at, cancelled_at,
                cancel_reason, version)
            SELECT s.id, 'B' || lpad(s.n::text, 12, '0'), s.buyer, st.status,
                   a.total - 800, 800, a.total,
                   CASE st.status WHEN 'refunded' THEN a.total
                                  WHEN 'partially_refunded' THEN a.total / 2 ELSE 0 END,
                   '收件人', '13800138000', '上海市浦东新区世纪大道 100 号', '',
                   json_build_object('levels', {LEVELS}, 'inactive_upline', 'skip',
                       'source', s.source, 'members', json_build_array(
                       json_build_object('level', 1, 'distributor_id', s.l1, 'tier', s.t1,
                                         'earns', true),
                       json_build_object('level', 2, 'distributor_id', s.l2, 'tier', s.t2,
                                         'earns', true),
                       json_build_object('level', 3, 'distributor_id', s.l3, 'tier', s.t3,
                                         'earns', true))),
                   a.paid - interval '5 minutes', a.paid + interval '25 minutes', a.paid,
                   CASE WHEN st.status IN ('shipped', 'completed') THEN a.paid + interval '1 day'
                   END,
                   CASE WHEN st.status = 'completed' THEN a.paid + interval '8 days' END,
                   NULL, '', 2
            FROM bench_sale s
            CROSS JOIN LATERAL (SELECT 1800 + (s.n * 37) % 20000 AS total,
                   BENCH_NOW - make_interval(secs => ((s.n::bigint * 104729) % 31536000)::int)
                   AS paid) a
            CROSS JOIN LATERAL (SELECT CASE WHEN s.n % 100 < 70 THEN 'completed'
                   WHEN s.n % 100 < 85 THEN 'paid' WHEN s.n % 100 < 93 THEN 'shipped'
                   WHEN s.n % 100 < 97 THEN 'refunded' ELSE 'partially_refunded' END
                   AS status) st
            ORDER BY s.id""",
        "SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders))",
        """INSERT INTO order_referrals (order_id, level, distributor_id, tier_code)
           SELECT s.id, m.level, m.distributor_id, m.tier
           FROM bench_sale s CROSS JOIN LATERAL (VALUES (1, s.l1, s.t1), (2, s.l2, s.t2),
                                                        (3, s.l3, s.t3)) m(level, distributor_id,
                                                                           tier)
           ORDER BY s.id, m.level""",
    ]),
]


def _bulk_load(dsn: str, base: datetime, now: datetime) -> list[tuple[str, float]]:
    """Run LOAD_STEPS (one transaction per step), check, VACUUM ANALYZE; each step's time."""

    def check(conn: Any) -> None:
        count = conn.execute(
            "SELECT count(*) FROM bench_sale WHERE n <= %s", (TEAM_ORDERS,)).fetchone()
        if count is None or count[0] != TEAM_ORDERS:
            raise AssertionError(f"team orders: expected {TEAM_ORDERS}, built {count}")

    literals = {"BENCH_BASE": f"'{base.isoformat()}'::timestamptz",
                "BENCH_NOW": f"'{now.isoformat()}'::timestamptz"}
    return run_load_steps(dsn, LOAD_STEPS, literals, check)


def _expected_team_sales(dsn: str, since: datetime, until: datetime) -> dict[int, list[int]]:
    """Level -> [orders, fen] for T from the orders and the generated tree shape alone."""
    import psycopg

    query = f"""
        SELECT CASE WHEN buyer_id BETWEEN {HEAD_CONSUMERS[0]} AND {HEAD_CONSUMERS[1]} THEN 1
                    WHEN buyer_id BETWEEN {L1_CONSUMERS[0]} AND {L1_CONSUMERS[1]} THEN 2
                    ELSE 3 END AS level,
               count(*), sum(total_fen - refunded_fen)
        FROM orders
        WHERE buyer_id BETWEEN {HEAD_CONSUMERS[0]} AND {L2_CONSUMERS[1]}
          AND status = ANY(%s) AND paid_at >= %s AND paid_at < %s
        GROUP BY 1"""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(query, (list(SALE_STATUSES), since, until)).fetchall()
    return {int(level): [int(count), int(total)] for level, count, total in rows}


# --- measuring -------------------------------------------------------------------------

def _explain(session: Any, statement: str, parameters: Any) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of a captured statement, with its parameters."""
    conn = session.connection()
    rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
    session.rollback()
    return "\n".join(r[0] for r in rows)


def _plan_summary(plan: str) -> str:
    """The scan nodes of a plan and its execution time, on one line."""
    scans = []
    for line in plan.splitlines():
        match = re.search(r"((?:Parallel )?(?:Seq|Index Only|Index|Bitmap Heap|Bitmap Index|"
                          r"WorkTable|CTE) Scan)(?: using (\S+))?(?: on (\S+))?", line)
        if match:
            kind, index, table = match.groups()
            scans.append(f"{kind}" + (f" {index}" if index else "") +
                         (f" on {table}" if table and not index else ""))
    took = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return f"{'; '.join(dict.fromkeys(scans))} ({took.group(1) if took else '?'} ms)"


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    out = fn()
    return (time.perf_counter() - began) * 1000, out


def _check_chain(snapshot: dict[str, Any], upline: int, tiers: dict[int, str | None]) -> None:
    expected = [{"level": n, "distributor_id": upline - n + 1, "tier": tiers[upline - n + 1],
                 "earns": True} for n in range(1, LEVELS + 1)]
    if snapshot["members"] != expected or snapshot["levels"] != LEVELS:
        raise AssertionError(f"chain under {upline}: {snapshot}, expected {expected}")


def _measure(env: dict[str, str], dsn: str, now: datetime) -> dict[str, Any]:
    os.environ.update(env)
    from sqlalchemy import func, select

    from core.models import AuditEntry, ReferralBinding
    from referral.attribution import chain_snapshot
    from referral.binding import bind
    from referral.domain.rules import BindingSource
    from referral.tree import team_stats
    from webapp import create_app
    from webapp.extensions import db

    out: dict[str, Any] = {}
    app = create_app()
    with app.app_context():
        session = db.session
        tiers = {uid: _chain_tier(uid) for uid in range(1, CHAIN_DEPTH + 2)}

        # Attribution chain: depth 10 and depth 10 000, interleaved.
        def chain(buyer: int) -> tuple[float, dict[str, Any]]:
            ms, snap = _timed(lambda: chain_snapshot(session, buyer))
            session.rollback()  # end the read transaction: each call starts fresh
            return ms, snap

        for _ in range(20):  # warm-up: connections, statement caches, buffers
            chain(SHALLOW_BUYER)
            chain(DEEP_BUYER)
        _check_chain(chain(SHALLOW_BUYER)[1], SHALLOW_UPLINE, tiers)
        _check_chain(chain(DEEP_BUYER)[1], DEEP_UPLINE, tiers)
        shallow: list[float] = []
        deep: list[float] = []
        for rep in range(CHAIN_REPS):
            order = [(SHALLOW_BUYER, shallow), (DEEP_BUYER, deep)]
            for buyer, sink in order if rep % 2 == 0 else order[::-1]:
                sink.append(chain(buyer)[0])
        out["chain10"] = statistics.median(shallow)
        out["chain10000"] = statistics.median(deep)

        # Team stats for T over the last 90 days.
        since, until = now - timedelta(days=WINDOW_DAYS), now
        expected = _expected_team_sales(dsn, since, until)
        stats = team_stats(session, TEAM_HEAD, since=since, until=until)
        session.rollback()
        got = {lvl: [stats.orders_by_level.get(lvl, 0), stats.sales_by_level.get(lvl, 0)]
               for lvl in (1, 2, 3)}
        direct = (L1[1] - L1[0] + 1) + (HEAD_CONSUMERS[1] - HEAD_CONSUMERS[0] + 1)
        if (stats.team_size != TEAM_SIZE or stats.direct_count != direct or got != expected
                or not all(expected.get(lvl, [0])[0] for lvl in (1, 2, 3))):
            raise AssertionError(f"team_stats: {stats}, expected size {TEAM_SIZE}, direct "
                                 f"{direct}, orders/fen by level {expected}")
        team_ms = []
        for _ in range(TEAM_REPS):
            ms, _stats = _timed(lambda: team_stats(session, TEAM_HEAD, since=since, until=until))
            session.rollback()
            team_ms.append(ms)
        out["team"] = statistics.median(team_ms)
        out["team_detail"] = (f"team_size={stats.team_size} direct={stats.direct_count} "
                              f"orders_by_level={stats.orders_by_level} "
                              f"sales_fen={stats.team_sales_fen}")

        # Plans of the services' own statements (captured, then EXPLAIN ANALYZEd).
        plans: dict[str, str] = {}
        for label, call in (
            ("walk up, depth 10 000", lambda: chain_snapshot(session, DEEP_BUYER)),
            ("team", lambda: team_stats(session, TEAM_HEAD, since=since, until=until)),
        ):
            with captured_sql(db.engine) as seen:
                call()
            session.rollback()
            for n, (statement, params) in enumerate(seen):
                if "RECURSIVE" in statement or "order_referrals" in statement:
                    plans[f"{label} #{n}"] = _explain(session, statement, params)
        out["plans"] = plans

        # Binding brand-new consumers (created untimed, like a subscribe event would).
        first_new = USERS + 1
        new_ids = list(range(first_new, first_new + BIND_COUNT))
        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO users (id, openid, nickname, avatar_url, subscribed, created_at) "
                "SELECT i, 'o-bench-' || i, '', '', true, now() "
                f"FROM generate_series({new_ids[0]}, {new_ids[-1]}) i")
            conn.exec_driver_sql(
                "INSERT INTO user_roles (user_id, role, granted_at) "
                f"SELECT i, 'consumer', now() FROM generate_series({new_ids[0]}, {new_ids[-1]}) i")
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('users', 'id'), {new_ids[-1]})")
        bushy = [BUSHY[0] + j for j in range(0, BUSHY[1] - BUSHY[0] + 1, 13)
                 if _bushy_status(j) == "active"]
        half = BIND_COUNT // 2
        targets = [1 + (k * CHAIN_DEPTH) // half for k in range(half)]  # depths 0..9 900
        targets += [bushy[(k * 7) % len(bushy)] for k in range(BIND_COUNT - half)]
        bind_ms = []
        for user_id, upline in zip(new_ids, targets, strict=True):
            ms, result = _timed(lambda u=user_id, up=upline: bind(
                session, u, up, BindingSource.QR, scene=f"qrscene_dist_{up}"))
            if not result.changed or result.upline_id != upline:
                raise AssertionError(f"bind {user_id} under {upline}: {result}")
            bind_ms.append(ms)
        bound = dict(session.execute(
            select(ReferralBinding.user_id, ReferralBinding.upline_id)
            .where(ReferralBinding.user_id >= first_new)).all())
        audited = session.scalar(
            select(func.count()).select_from(AuditEntry)
            .where(AuditEntry.action == "referral.bound")) or 0
        session.rollback()
        if bound != dict(zip(new_ids, targets, strict=True)) or audited != BIND_COUNT:
            raise AssertionError(f"bindings stored: {len(bound)}, audited: {audited}")
        out["bind"] = statistics.median(bind_ms)
        out["bind_p90"] = statistics.quantiles(bind_ms, n=10)[-1]
        db.engine.dispose()
    return out


def main() -> None:
    """Build the tree, measure, print the RESULT line."""
    lines: list[str] = []
    with migrated_postgres() as database:
        dsn, env = database.dsn, database.env
        now = datetime.now(UTC).replace(microsecond=0)
        base = now - timedelta(days=400)
        began = time.perf_counter()
        steps = _bulk_load(dsn, base, now)
        load_s = time.perf_counter() - began
        lines.append(f"load: {load_s:.1f} s (" +
                     ", ".join(f"{name} {s:.1f} s" for name, s in steps) + ")")
        measured = _measure(env, dsn, now)
        for label, plan in measured["plans"].items():
            lines.append(f"plan {label}: {_plan_summary(plan)}")
            if EXPLAIN:
                lines.append(plan)
        lines.append(measured["team_detail"])
        lines.append(f"bind p90={measured['bind_p90']:.3f} ms over {BIND_COUNT}; chain reps "
                     f"{CHAIN_REPS} each; team_stats reps {TEAM_REPS}")
    ratio = measured["chain10000"] / measured["chain10"]
    verdict = "met" if ratio <= TARGET_DEPTH_RATIO else "MISSED"
    lines.append(f"target depth_ratio <= {TARGET_DEPTH_RATIO}: {verdict} ({ratio:.3f})")
    lines.append(
        f"RESULT bind_ms={measured['bind']:.3f} chain_ms_depth10={measured['chain10']:.3f} "
        f"chain_ms_depth10000={measured['chain10000']:.3f} depth_ratio={ratio:.3f} "
        f"team_stats_ms={measured['team']:.3f}")
    # Printed after cleanup so that RESULT is the last line of the output.
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
