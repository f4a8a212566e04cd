"""What people see of the money: distributor earnings and statements, operator reports.

One realistic story (``money_story``) drives real payments, refunds, completion
and settlement on SQLite and PostgreSQL; every figure checked is computed by
hand in the comments. The API tests reuse the story.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from commissions import ledger
from commissions.earnings import (
    EarningsSummary,
    earnings_summary,
    statement,
    summary_from_balances,
)
from commissions.plan_store import save_plan
from commissions.reports import (
    LevelTotal,
    Period,
    PlatformPnl,
    SupplierPayable,
    TopDistributor,
    commissions_by_level,
    csv_columns,
    platform_pnl,
    supplier_payables,
    to_csv,
    top_distributors,
)
from core.actors import Actor
from core.clock import utcnow
from core.models import Role, Supplier
from core.money import format_yuan
from tests.support.factories import link, make_distributor, make_user
from tests.support.money import complete, refund, settle_after
from tests.support.payments import install_fake_gateway, paid_order
from tests.support.stories import STORY_PLAN, Story, money_story
from webapp.extensions import db


@pytest.fixture
def story(any_app) -> Story:
    return money_story(any_app)


def test_earnings_summary_after_the_story(story):
    # alice: O3 pending 150; available 400 - 300 - 100 - 400 = -400 -> debt 400, shown 0.
    assert earnings_summary(db.session, story.alice.id) == EarningsSummary(
        pending_fen=150, available_fen=0, withdrawing_fen=100, withdrawn_fen=300, debt_fen=400)
    # top: pending 300 (O2) + 75 (O3); available 200 - 200 clawed back = 0.
    assert earnings_summary(db.session, story.top.id) == EarningsSummary(375, 0, 0, 0, 0)
    assert earnings_summary(db.session, story.bob.id) == EarningsSummary(600, 0, 0, 0, 0)
    # Someone who never earned: all zero, no accounts needed.
    assert earnings_summary(db.session, story.buyer.id) == EarningsSummary(0, 0, 0, 0, 0)


def test_a_negative_available_balance_shows_as_debt():
    assert summary_from_balances(10, -250, 0, 0) == EarningsSummary(10, 0, 0, 0, 250)
    assert summary_from_balances(0, 0, 5, 7) == EarningsSummary(0, 0, 5, 7, 0)
    assert summary_from_balances(0, 90, 0, 0) == EarningsSummary(0, 90, 0, 0, 0)


def test_statement_lists_commissions_and_clawbacks_newest_first(story):
    first, _, third = story.orders
    total, lines = statement(db.session, story.alice.id, 0, 50)
    assert total == 3
    seen = [(ln.kind, ln.order_number, ln.level, ln.amount_fen, ln.reversed_fen,
             ln.clawed_back_fen, ln.net_fen, ln.status) for ln in lines]
    assert seen == [
        ("clawback", first.number, 1, -400, 0, 0, -400, "available"),
        ("commission", third.number, 1, 150, 0, 0, 150, "pending"),
        # 100 reversed while pending, 400 clawed back after: 400 settled (net row).
        ("commission", first.number, 1, 500, 500, 400, 400, "available"),
    ]
    clawback, _, settled = lines
    assert clawback.clawback_of == settled.id
    assert settled.settled_at is not None and settled.matures_at is not None
    assert lines[1].settled_at is None and lines[1].matures_at is None
    assert settled.product_title == first.lines[0].title
    # The rows add up to everything alice ever had: pending + available + withdrawals.
    summary = earnings_summary(db.session, story.alice.id)
    assert sum(ln.net_fen for ln in lines) == (
        summary.pending_fen + summary.available_fen - summary.debt_fen
        + summary.withdrawing_fen + summary.withdrawn_fen) == 150


def test_statement_pages_and_only_shows_its_distributor(story):
    total, page = statement(db.session, story.alice.id, 1, 1)
    assert total == 3 and [ln.net_fen for ln in page] == [150]
    assert statement(db.session, story.alice.id, 3, 10) == (3, [])
    assert statement(db.session, story.alice.id, 10**12, 10) == (3, [])
    total, top_lines = statement(db.session, story.top.id, 0, 10)
    assert total == 4  # O1, O2, O3 and the clawback of O1
    assert {ln.amount_fen for ln in top_lines} == {250, 300, 75, -200}
    assert statement(db.session, story.buyer.id, 0, 10) == (0, [])
    with pytest.raises(ValueError):
        statement(db.session, story.alice.id, -1, 10)
    with pytest.raises(ValueError):
        statement(db.session, story.alice.id, 0, 0)


def test_platform_pnl_by_hand(story):
    # All time: paid 25 000, refunded 10 000 (all of O1).
    assert platform_pnl(db.session, Period()) == PlatformPnl(
        orders=3, gross_paid_fen=25_000, refunds_fen=10_000, net_paid_fen=15_000,
        supplier_cost_fen=7_500, commissions_gross_fen=1_875, commissions_reversed_fen=750,
        commissions_fen=1_125, platform_revenue_fen=6_375)
    # Orders paid before the middle (O1, O2), with O1's later refund counted with it.
    assert platform_pnl(db.session, Period(story.start, story.middle)) == PlatformPnl(
        orders=2, gross_paid_fen=22_000, refunds_fen=10_000, net_paid_fen=12_000,
        supplier_cost_fen=6_000, commissions_gross_fen=1_650, commissions_reversed_fen=750,
        commissions_fen=900, platform_revenue_fen=5_100)
    assert platform_pnl(db.session, Period(since=story.middle)) == PlatformPnl(
        orders=1, gross_paid_fen=3_000, refunds_fen=0, net_paid_fen=3_000,
        supplier_cost_fen=1_500, commissions_gross_fen=225, commissions_reversed_fen=0,
        commissions_fen=225, platform_revenue_fen=1_275)
    assert platform_pnl(db.session, Period(until=story.start)) == PlatformPnl(
        0, 0, 0, 0, 0, 0, 0, 0, 0)


def test_pnl_platform_revenue_equals_the_ledger_over_all_time(story):
    pnl = platform_pnl(db.session, Period())
    assert pnl.platform_revenue_fen == ledger.balance(db.session, ledger.PLATFORM) == 6_375
    assert pnl.net_paid_fen == -ledger.balance(db.session, ledger.CLEARING)
    assert pnl.net_paid_fen == (pnl.supplier_cost_fen + pnl.commissions_fen
                                + pnl.platform_revenue_fen)
    payables = sum(ledger.balance(db.session, ledger.SUPPLIER_PAYABLE, s)
                   for s in story.suppliers)
    assert pnl.supplier_cost_fen == payables


def test_pnl_counts_shipping_and_its_refund_as_platform_money(any_app):
    install_fake_gateway(any_app)
    ops = Actor.of(make_user(Role.OPERATOR))
    save_plan(db.session, ops, STORY_PLAN)
    top = make_distributor()
    buyer = make_user()
    link(buyer, top)
    order = paid_order(any_app, buyer, (4_000, 1), shipping_fen=500)
    refund(any_app, ops, order)  # everything back, shipping included
    pnl = platform_pnl(db.session, Period())
    # 4 000 + 500 shipping paid and refunded: nothing is left anywhere.
    assert (pnl.gross_paid_fen, pnl.refunds_fen, pnl.platform_revenue_fen) == (4_500, 4_500, 0)
    assert pnl.platform_revenue_fen == ledger.balance(db.session, ledger.PLATFORM)


def test_commissions_by_level_by_hand(story):
    assert commissions_by_level(db.session, Period()) == [
        # alice O1 500 (all reversed), bob O2 600, alice O3 150.
        LevelTotal(level=1, lines=3, distributors=2, gross_fen=1_250, reversed_fen=500,
                   net_fen=750, pending_fen=750, settled_fen=0),
        # top: 250 (all reversed), 300, 75.
        LevelTotal(level=2, lines=3, distributors=1, gross_fen=625, reversed_fen=250,
                   net_fen=375, pending_fen=375, settled_fen=0),
    ]
    assert commissions_by_level(db.session, Period(story.start, story.middle)) == [
        LevelTotal(1, 2, 2, 1_100, 500, 600, 600, 0),
        LevelTotal(2, 2, 1, 550, 250, 300, 300, 0),
    ]
    assert commissions_by_level(db.session, Period(until=story.start)) == []


def test_settled_commission_shows_as_settled(any_app):
    install_fake_gateway(any_app)
    ops = make_user(Role.OPERATOR)
    save_plan(db.session, Actor.of(ops), STORY_PLAN)
    alice = make_distributor()
    buyer = make_user()
    link(buyer, alice)
    order = paid_order(any_app, buyer, (2_000, 1))  # margin 1 000 -> alice 100
    complete(order)
    settle_after(8)
    assert commissions_by_level(db.session, Period()) == [
        LevelTotal(1, 1, 1, 100, 0, 100, 0, 100)]


def test_top_distributors_by_hand(story):
    top, alice, bob = story.top.id, story.alice.id, story.bob.id
    nick = {u.id: u.nickname for u in (story.top, story.alice, story.bob)}
    assert top_distributors(db.session, Period(), 10) == [
        TopDistributor(1, bob, nick[bob], orders=1, lines=1, gross_fen=600, reversed_fen=0,
                       net_fen=600),
        TopDistributor(2, top, nick[top], orders=3, lines=3, gross_fen=625, reversed_fen=250,
                       net_fen=375),
        TopDistributor(3, alice, nick[alice], orders=2, lines=2, gross_fen=650,
                       reversed_fen=500, net_fen=150),
    ]
    assert [t.distributor_id for t in top_distributors(db.session, Period(), 2)] == [bob, top]
    later = top_distributors(db.session, Period(since=story.middle), 10)
    assert [(t.distributor_id, t.net_fen) for t in later] == [(alice, 150), (top, 75)]
    with pytest.raises(ValueError):
        top_distributors(db.session, Period(), 0)


def test_supplier_payables_by_hand(story):
    s1, s2, s3 = story.suppliers
    names = {sid: db.session.get(Supplier, sid).name for sid in story.suppliers}
    # Now: O1's supplier was refunded everything; O2 and O3 are owed their cost.
    assert supplier_payables(db.session, Period()) == [
        SupplierPayable(s2, names[s2], 0, 6_000, 6_000),
        SupplierPayable(s3, names[s3], 0, 1_500, 1_500),
        SupplierPayable(s1, names[s1], 0, 0, 0),
    ]
    # At the middle, O1's supplier was owed 5 000 - 1 000; after it the rest went back.
    assert supplier_payables(db.session, Period(since=story.middle)) == [
        SupplierPayable(s2, names[s2], 6_000, 0, 6_000),
        SupplierPayable(s3, names[s3], 0, 1_500, 1_500),
        SupplierPayable(s1, names[s1], 4_000, -4_000, 0),
    ]
    assert supplier_payables(db.session, Period(story.start, story.middle)) == [
        SupplierPayable(s2, names[s2], 0, 6_000, 6_000),
        SupplierPayable(s1, names[s1], 0, 4_000, 4_000),
        SupplierPayable(s3, names[s3], 0, 0, 0),
    ]
    for row in supplier_payables(db.session, Period()):
        assert row.closing_fen == ledger.balance(db.session, ledger.SUPPLIER_PAYABLE,
                                                 row.supplier_id)


def test_period_must_end_after_it_starts():
    now = utcnow()
    with pytest.raises(ValueError):
        Period(now, now)
    with pytest.raises(ValueError):
        Period(now, now - timedelta(seconds=1))


@pytest.mark.parametrize(("fen", "text"), [
    (0, "0.00"), (5, "0.05"), (-5, "-0.05"), (100, "1.00"), (-100, "-1.00"),
    (123_456, "1234.56"), (-123_456, "-1234.56"), (10**17 + 1, "1000000000000000.01"),
])
def test_yuan_is_formatted_from_whole_fen(fen, text):
    assert format_yuan(fen) == text


@pytest.mark.parametrize("bad", [1.5, 100.0, True, "100", None])
def test_yuan_refuses_anything_but_whole_fen(bad):
    with pytest.raises(TypeError):
        format_yuan(bad)


def test_csv_has_yuan_and_fen_and_defuses_formulas():
    assert csv_columns(SupplierPayable) == [
        "supplier_id", "supplier_name", "opening_yuan", "opening_fen", "change_yuan",
        "change_fen", "closing_yuan", "closing_fen"]
    rows = [SupplierPayable(7, "=HYPERLINK(\"http://x\")", 0, -1_205, -1_205),
            SupplierPayable(8, "上海供应商, 有限公司", 5, 0, 5)]
    text = to_csv(SupplierPayable, rows, prefix=[("since", None)])
    assert text.splitlines() == [
        "since,supplier_id,supplier_name,opening_yuan,opening_fen,change_yuan,change_fen,"
        "closing_yuan,closing_fen",
        ",7,\"'=HYPERLINK(\"\"http://x\"\")\",0.00,0,-12.05,-1205,-12.05,-1205",
        ",8,\"上海供应商, 有限公司\",0.05,5,0.00,0,0.05,5",
    ]
