"""Benchmark: the settlement job over 200 000 matured commission lines, against a raw UPDATE.

Starts a throw-away PostgreSQL cluster, migrates it with the project's
migrations and bulk-loads the world of bench/settlement_world.py (timed
separately, not part of RESULT): 57 500 paid orders booked as ChatShop books
them, 230 000 commission lines of which 200 000 matured (BENCH_SETTLE_LINES).
The ledger is checked clean (``check_ledger``, and ``replay_order`` on a
sample of orders) before anything is measured.

* Statements per paid order: SQLAlchemy's ``before_cursor_execute`` counts what
  ``shop.payments.apply_pay_notify`` sends for a signed notify, for
  (a) 5 lines and a buyer with a 3-level chain (referral settings: 3 levels,
  acknowledged; a saved plan with 3 rates) and (b) 1 line and a 1-level chain;
  each booking is checked (15 and 1 commission lines). As in production the
  buyer called ``start_payment`` first (FakeGateway), so the payment row exists.
* Settlement: ``commissions.settlement.settle_matured_commissions`` in an app
  context (default batch size) over the 200 000 lines, against the floor: one
  raw ``UPDATE commission_lines SET status = 'available', settled_at = now()``
  of the same rows. ROUNDS of each, interleaved (alternating which goes
  first), each from the same state (reset, VACUUM ANALYZE, CHECKPOINT);
  medians. After every settlement: ``check_ledger`` has no breach, exactly the
  matured lines are available, and every world distributor's available and
  pending balances equal the sums computed from the generated lines.
* The statements of the last timed settlement (recorded as it ran) are then
  replayed from the same starting state under EXPLAIN (ANALYZE, BUFFERS): per
  statement, its time, the costliest plan nodes (exclusive time) and trigger
  time. BENCH_EXPLAIN=1 prints the plans in full.

Last line: RESULT settle_rows_per_s=… ratio_vs_raw_update=… queries_per_paid_order=…
queries_constant=yes|no, where the ratio is settle_rows_per_s / raw_rows_per_s.
"""
from __future__ import annotations

import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import settlement_world as world  # noqa: E402
from bench.support import captured_sql, migrated_postgres  # noqa: E402

BIN = Path(sys.executable).parent
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
REPLAY_SAMPLE = 25
EXPLAIN = os.environ.get("BENCH_EXPLAIN", "") not in ("", "0")
TARGET_RATIO = 0.3

MATURED = ("kind = 'commission' AND status = 'pending' AND matures_at IS NOT NULL "
           "AND matures_at <= %(now)s")
RAW_UPDATE = ("UPDATE commission_lines SET status = 'available', settled_at = now() "
              f"WHERE {MATURED}")


# --- statements ------------------------------------------------------------------------

def _label(statement: str) -> str:
    """"INSERT ledger_entries", "SELECT orders", ... for a statement."""
    sql = " ".join(statement.split())
    verb = sql.split(" ", 1)[0].upper()
    if verb == "WITH":
        return "WITH RECURSIVE (tree walk)" if "RECURSIVE" in sql.upper() else "WITH"
    pattern = {"INSERT": r"INTO (\w+)", "UPDATE": r"UPDATE (\w+)",
               "DELETE": r"FROM (\w+)"}.get(verb, r"\bFROM (\w+)")
    match = re.search(pattern, sql, re.IGNORECASE)
    label = f"{verb} {match.group(1) if match else '?'}"
    if verb == "INSERT" and "FROM (VALUES" in sql:
        label += " (multi-row)"
    elif verb == "INSERT" and re.search(r"\)\s*SELECT ", sql):
        label += " ... SELECT"
    if sql.upper().endswith("FOR UPDATE"):
        label += " FOR UPDATE"
    return label


def _compact(labels: list[str]) -> str:
    """Consecutive equal labels folded: "SELECT a, 2× INSERT b"."""
    out: list[str] = []
    for label in labels:
        if out and out[-1].endswith(label):
            head, _, tail = out[-1].partition("× ")
            n = int(head) + 1 if tail == label else 2
            out[-1] = f"{n}× {label}"
        else:
            out.append(label)
    return ", ".join(out)


# --- EXPLAIN ---------------------------------------------------------------------------

def _nodes(plan: dict[str, Any]) -> Iterator[tuple[dict[str, Any], float]]:
    """Every node with its exclusive time in ms (inclusive minus its children's)."""
    inclusive = plan.get("Actual Total Time", 0.0) * plan.get("Actual Loops", 1)
    children = plan.get("Plans", [])
    inner = sum(c.get("Actual Total Time", 0.0) * c.get("Actual Loops", 1) for c in children)
    yield plan, max(inclusive - inner, 0.0)
    for child in children:
        yield from _nodes(child)


def _node_name(node: dict[str, Any]) -> str:
    name = node["Node Type"]
    if node.get("Index Name"):
        name += f" {node['Index Name']}"
    elif node.get("Relation Name"):
        name += f" on {node['Relation Name']}"
    return f"{name} (rows {node.get('Actual Rows', 0) * node.get('Actual Loops', 1):.0f})"


def _plan_summary(explained: dict[str, Any]) -> tuple[float, str]:
    """Execution time and a one-line account of where it went."""
    costly = sorted(_nodes(explained["Plan"]), key=lambda item: -item[1])[:3]
    parts = [f"{_node_name(node)} {ms:.0f} ms" for node, ms in costly if ms >= 1]
    for trig in explained.get("Triggers", []):
        parts.append(f"trigger {trig['Trigger Name']}: {trig['Calls']} calls "
                     f"{trig['Time']:.0f} ms")
    return explained["Execution Time"], "; ".join(parts) or "-"


# --- the world's state between measurements ----------------------------------------------

def _reset(admin: Any) -> None:
    """Every matured line pending again, settlement postings gone, balances as loaded."""
    with admin.transaction():
        admin.execute("UPDATE commission_lines SET status = 'pending', settled_at = NULL, "
                      "settlement_txn_id = NULL WHERE status = 'available'")
        admin.execute("DELETE FROM ledger_entries e USING ledger_transactions t "
                      "WHERE t.id = e.txn_id AND t.kind = 'settlement'")
        admin.execute("DELETE FROM ledger_transactions WHERE kind = 'settlement'")
        admin.execute("UPDATE ledger_accounts a SET balance_fen = s.balance_fen "
                      "FROM bench.saved_balances s "
                      "WHERE s.id = a.id AND a.balance_fen <> s.balance_fen")
        # The next settlement gets the same transaction ids (EXPLAIN replays rely on it).
        admin.execute("SELECT setval('ledger_transactions_id_seq', "
                      "(SELECT max(id) FROM ledger_transactions))")
    admin.execute("VACUUM ANALYZE commission_lines, ledger_entries, ledger_transactions, "
                  "ledger_accounts")
    admin.execute("CHECKPOINT")


def _world_lines(admin: Any, now: datetime) -> tuple[int, int, int]:
    """(matured pending, available, unmatured pending) commission lines of the world."""
    row = admin.execute(
        f"""SELECT count(*) FILTER (WHERE {MATURED}),
                   count(*) FILTER (WHERE status = 'available'),
                   count(*) FILTER (WHERE status = 'pending'
                                    AND (matures_at IS NULL OR matures_at > %(now)s))
            FROM commission_lines WHERE order_id <= %(orders)s""",
        {"now": now, "orders": world.ORDERS}).fetchone()
    return (int(row[0]), int(row[1]), int(row[2]))


def _check_settled(session: Any, admin: Any, now: datetime, settled: int) -> None:
    """A fast wrong answer fails here: the ledger, the lines and every balance."""
    from shop.ledger_checks import check_ledger

    if settled != world.MATURED_LINES:
        raise AssertionError(f"settled {settled} lines, expected {world.MATURED_LINES}")
    breaches = {name: found for name, found in check_ledger(session).items() if found}
    session.rollback()
    if breaches:
        raise AssertionError(f"ledger check after settlement: {breaches}")
    lines = _world_lines(admin, now)
    if lines != (0, world.MATURED_LINES, world.UNMATURED_LINES):
        raise AssertionError(f"world lines (matured pending, available, unmatured pending) "
                             f"after settlement: {lines}")
    row = admin.execute(
        """SELECT count(*), count(*) FILTER (WHERE av.balance_fen <> e.available_fen
                                             OR pe.balance_fen <> e.pending_fen),
                  sum(av.balance_fen), sum(e.available_fen),
                  (SELECT count(*) FROM bench.expected)
           FROM bench.expected e
           JOIN ledger_accounts av ON av.kind = 'distributor_available'
                                  AND av.owner_id = e.distributor_id
           JOIN ledger_accounts pe ON pe.kind = 'distributor_pending'
                                  AND pe.owner_id = e.distributor_id""").fetchone()
    accounts, wrong, available, expected, distributors = row
    if accounts != distributors or wrong or available != expected:
        raise AssertionError(f"balances: {wrong} of {accounts} distributors wrong "
                             f"({distributors} expected), available {available} fen, "
                             f"lines say {expected} fen")
    bad = admin.execute(
        "SELECT count(*) FROM commission_lines WHERE status = 'available' AND "
        "(settled_at IS DISTINCT FROM %(now)s OR settlement_txn_id IS NULL)",
        {"now": now}).fetchone()
    if bad[0]:
        raise AssertionError(f"{bad[0]} available lines without settled_at = now or their "
                             f"settlement transaction")


# --- measuring -------------------------------------------------------------------------

def _check_world(session: Any) -> None:
    """The loaded world is what ChatShop itself would have written."""
    from sqlalchemy import select

    from commissions.replay import replay_order
    from core.models import Order
    from shop.ledger_checks import check_ledger

    breaches = {name: found for name, found in check_ledger(session).items() if found}
    if breaches:
        raise AssertionError(f"ledger check of the loaded world: {breaches}")
    step = world.ORDERS // REPLAY_SAMPLE
    for order in session.scalars(select(Order).where(Order.id % step == 1)).all():
        report = replay_order(session, order)
        if not report.clean:
            raise AssertionError(f"replay of order {order.number}: {report.differences}")
    session.rollback()


def _count_paid_order(app: Any, lines: list[tuple[int, int]], levels: int) -> list[str]:
    """Labels of the statements ``apply_pay_notify`` issues to record one paid order."""
    from sqlalchemy import func, select

    from core.actors import Actor
    from core.models import CommissionLine
    from shop import payments
    from tests.support.factories import link, make_distributor, make_user, place_order
    from tests.support.payments import signed_pay_notify
    from tests.support.settings import gateway_of, settings_of
    from webapp.extensions import db

    upline = make_distributor()
    for _ in range(levels - 1):
        upline = make_distributor(upline=upline)
    buyer = make_user()
    link(buyer, upline)
    order = place_order(*lines, buyer=buyer)
    # As in production, the buyer started paying first (the payment row exists).
    payments.start_payment(db.session, gateway_of(), settings_of(), Actor.of(buyer), order.id,
                           "127.0.0.1")
    body = signed_pay_notify(app, order.number, order.total_fen)
    db.session.commit()
    with captured_sql(db.engine) as seen:
        outcome = payments.apply_pay_notify(db.session, gateway_of(), body)
    if not outcome.applied:
        raise AssertionError(f"pay notify not applied: {outcome}")
    booked = db.session.execute(
        select(func.count(), func.count(func.distinct(CommissionLine.level)))
        .where(CommissionLine.order_id == order.id)).one()
    db.session.rollback()
    if tuple(booked) != (len(lines) * levels, levels):
        raise AssertionError(f"order {order.number} booked {tuple(booked)} (commission lines, "
                             f"levels), expected {(len(lines) * levels, levels)}")
    return [_label(statement) for statement, _ in seen]


def _count_statements(app: Any) -> tuple[list[str], list[str]]:
    from commissions.plan_store import save_plan
    from core.actors import Actor
    from core.models import ReferralSettings, Role
    from tests.support.factories import make_user
    from tests.support.payments import install_fake_gateway
    from webapp.extensions import db

    install_fake_gateway(app)
    db.session.add(ReferralSettings(id=1, levels=3, three_levels_acknowledged=True))
    db.session.commit()
    save_plan(db.session, Actor.of(make_user(Role.OPERATOR)),
              {"rates_bp": [1000, 500, 200], "levels": 3, "three_levels_acknowledged": True})
    big = _count_paid_order(app, [(1000 + n, 1) for n in range(5)], 3)
    small = _count_paid_order(app, [(1000, 1)], 1)
    return big, small


def _explain_settlement(seen: list[tuple[str, Any]], dsn: str) -> (
    list[tuple[str, float, str, str]]
):
    """Replay a settlement's statements under EXPLAIN ANALYZE in one transaction, rolled back.

    Run from the state the settlement started from (``_reset`` gives the same
    transaction ids again), so every statement does the same work.
    """
    import psycopg

    out = []
    with psycopg.connect(dsn) as conn:
        for statement, params in seen:
            row = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement,
                               params).fetchone()
            explained = row[0][0] if isinstance(row[0], list) else json.loads(row[0])[0]
            took, summary = _plan_summary(explained)
            full = ""
            if EXPLAIN:
                text = conn.execute("EXPLAIN " + statement, params).fetchall()
                full = statement + "\n" + "\n".join(r[0] for r in text)
            out.append((_label(statement), took, summary, full))
        conn.rollback()
    return out


def _measure(env: dict[str, str], dsn: str, now: datetime) -> dict[str, Any]:
    import psycopg
    from sqlalchemy import text

    os.environ.update(env)
    from commissions.settlement import DEFAULT_BATCH, settle_matured_commissions
    from webapp import create_app
    from webapp.extensions import db

    out: dict[str, Any] = {}
    app = create_app()
    with app.app_context(), psycopg.connect(dsn, autocommit=True) as admin:
        session = db.session
        began = time.perf_counter()
        _check_world(session)
        out["check_world_s"] = time.perf_counter() - began

        out["statements"] = _count_statements(app)

        admin.execute("CREATE TABLE bench.saved_balances AS "
                      "SELECT id, balance_fen FROM ledger_accounts")
        _reset(admin)
        session.execute(text("SELECT 1"))  # connect now, not inside the first timing
        session.rollback()

        captured: list[tuple[str, Any]] = []

        def settle() -> float:
            # Recording ~30 statements costs nothing next to the job; EXPLAIN replays them.
            with captured_sql(db.engine) as seen:
                began = time.perf_counter()
                settled = settle_matured_commissions(session, now=now)
                took = time.perf_counter() - began
            captured[:] = seen
            _check_settled(session, admin, now, settled)
            txns = admin.execute("SELECT count(*) FROM ledger_transactions "
                                 "WHERE kind = 'settlement'").fetchone()[0]
            out["settlement_txns"] = txns
            if txns != -(-world.MATURED_LINES // DEFAULT_BATCH):
                raise AssertionError(f"{txns} settlement transactions for "
                                     f"{world.MATURED_LINES} lines in batches of "
                                     f"{DEFAULT_BATCH}")
            return took

        def raw() -> float:
            with psycopg.connect(dsn) as conn:
                conn.execute("SELECT 1")
                conn.commit()
                began = time.perf_counter()
                updated = conn.execute(RAW_UPDATE, {"now": now}).rowcount
                conn.commit()
                took = time.perf_counter() - began
            if updated != world.MATURED_LINES:
                raise AssertionError(f"raw UPDATE touched {updated} rows")
            return took

        times: dict[str, list[float]] = {"settle": [], "raw": []}
        runs: list[tuple[str, Callable[[], float]]] = [("settle", settle), ("raw", raw)]
        for rnd in range(ROUNDS):
            for name, run in runs if rnd % 2 == 0 else runs[::-1]:
                lines = _world_lines(admin, now)
                if lines != (world.MATURED_LINES, 0, world.UNMATURED_LINES):
                    raise AssertionError(f"world lines before {name}: {lines}")
                times[name].append(run())
                _reset(admin)
        out["times"] = times
        out["explain"] = _explain_settlement(captured, dsn)
        out["world"] = admin.execute(
            """SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_lines),
                      (SELECT count(*) FROM commission_lines),
                      (SELECT count(*) FROM ledger_accounts),
                      (SELECT count(*) FROM ledger_entries),
                      (SELECT pg_size_pretty(pg_total_relation_size('commission_lines')))"""
        ).fetchone()
        out["batch"] = DEFAULT_BATCH
        session.remove()
        db.engine.dispose()
    return out


def main() -> None:
    """Load the world, measure, print the RESULT line."""
    lines: list[str] = []
    with migrated_postgres() as database:
        dsn, env = database.dsn, database.env
        now = datetime.now(UTC).replace(microsecond=0)
        began = time.perf_counter()
        steps = world.load(dsn, now - timedelta(days=400), now)
        load_s = time.perf_counter() - began
        lines.append(f"load: {load_s:.1f} s (" +
                     ", ".join(f"{name} {s:.1f} s" for name, s in steps) + ")")
        m = _measure(env, dsn, now)

    orders, order_lines, commission_lines, accounts, entries, size = m["world"]
    lines.append(f"world: {orders} orders, {order_lines} order lines, {commission_lines} "
                 f"commission lines ({world.MATURED_LINES} matured; table {size}), "
                 f"{accounts} ledger accounts, {entries} ledger entries; ledger check and "
                 f"{REPLAY_SAMPLE} replays clean ({m['check_world_s']:.1f} s)")
    big, small = m["statements"]
    lines.append(f"statements to record a paid order: 5 lines, 3 levels: {len(big)}; "
                 f"1 line, 1 level: {len(small)}")
    lines.append(f"  (a): {_compact(big)}")
    if big != small:
        lines.append(f"  (b): {_compact(small)}")
    settle_s = statistics.median(m["times"]["settle"])
    raw_s = statistics.median(m["times"]["raw"])
    settle_rate = world.MATURED_LINES / settle_s
    raw_rate = world.MATURED_LINES / raw_s
    ratio = settle_rate / raw_rate
    fmt = ", ".join
    lines.append(f"settlement ({m['batch']} per batch, {m['settlement_txns']} transactions): "
                 f"{fmt(f'{t:.2f}' for t in m['times']['settle'])} s; raw UPDATE: "
                 f"{fmt(f'{t:.2f}' for t in m['times']['raw'])} s; medians of {ROUNDS}, "
                 f"interleaved; raw_rows_per_s={raw_rate:.0f}")
    explained = m["explain"]
    lines.append(f"EXPLAIN ANALYZE of the settlement's {len(explained)} statements "
                 f"({sum(t for _, t, _, _ in explained) / 1000:.2f} s in all); first batch:")
    first_batch = explained[:next((i for i, (label, *_rest) in enumerate(explained)
                                   if i and label == explained[0][0]), len(explained))]
    for label, took, summary, full in first_batch:
        lines.append(f"  {label}: {took:.0f} ms; {summary}")
        if full:
            lines.append(full)
    ratio_ok = ratio >= TARGET_RATIO
    constant = len(big) == len(small)
    lines.append(f"targets: ratio_vs_raw_update >= {TARGET_RATIO}: "
                 f"{'met' if ratio_ok else 'MISSED'} ({ratio:.3f}); statements independent "
                 f"of lines and levels: {'met' if constant else 'MISSED'} "
                 f"({len(big)} vs {len(small)})")
    lines.append(f"RESULT settle_rows_per_s={settle_rate:.0f} ratio_vs_raw_update={ratio:.3f} "
                 f"queries_per_paid_order={len(big)} "
                 f"queries_constant={'yes' if len(big) == len(small) else 'no'}")
    # Printed after cleanup so that RESULT is the last line of the output.
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
