"""The command grammar, money and text helpers, and the state's JSON form."""
from __future__ import annotations

import pytest

from bots.dialogue import grammar as g
from bots.dialogue.state import STATE_VERSION, State
from bots.dialogue.texts import STATUS, TEXTS, item_title, mask_phone, paid_message, say, yuan


@pytest.mark.parametrize(
    ("text", "name", "args", "lang"),
    [
        ("菜单", g.MENU, (), "zh"),
        ("Menu", g.MENU, (), "en"),
        ("ＭＥＮＵ", g.MENU, (), "en"),  # full-width letters
        ("  menu  ", g.MENU, (), "en"),
        ("帮助", g.HELP, (), "zh"),
        ("?", g.HELP, (), None),
        ("？", g.HELP, (), None),
        ("分类", g.CATEGORIES, (), "zh"),
        ("Categories", g.CATEGORIES, (), "en"),
        ("搜索 苹果", g.SEARCH, ("苹果",), "zh"),
        ("搜索苹果", g.SEARCH, ("苹果",), "zh"),
        ("search Red Apple", g.SEARCH, ("red", "apple"), "en"),
        ("购物车", g.CART, (), "zh"),
        ("CART", g.CART, (), "en"),
        ("结算", g.CHECKOUT, (), "zh"),
        ("check out", g.CHECKOUT, (), "en"),
        ("订单", g.ORDERS, (), "zh"),
        ("我的订单", g.ORDERS, (), "zh"),
        ("订单 2", g.ORDERS, ("2",), "zh"),
        ("orders", g.ORDERS, (), "en"),
        ("退款 1 不想要了", g.REFUND, ("1", "不想要了"), "zh"),
        ("退款1", g.REFUND, ("1",), "zh"),
        ("refund 1 broken", g.REFUND, ("1", "broken"), "en"),
        ("分销", g.DISTRIBUTOR, (), "zh"),
        ("distributor", g.DISTRIBUTOR, (), "en"),
        ("提现", g.DISTRIBUTOR, (g.WITHDRAW,), "zh"),
        ("my team", g.DISTRIBUTOR, (g.MY_TEAM,), "en"),
        ("申请分销", g.DISTRIBUTOR, (g.APPLY,), "zh"),
        ("Apply", g.DISTRIBUTOR, (g.APPLY,), "en"),
        ("apply for a refund", g.UNKNOWN, (), None),  # applying needs the whole line
        ("申请分销吧", g.UNKNOWN, (), None),
        ("申请退款", g.REFUND, (), "zh"),
        ("我的邀请码", g.DISTRIBUTOR, (g.MY_CODE,), "zh"),
        ("my code", g.DISTRIBUTOR, (g.MY_CODE,), "en"),
        ("海报", g.DISTRIBUTOR, (g.POSTER,), "zh"),
        ("poster", g.DISTRIBUTOR, (g.POSTER,), "en"),
        ("二维码", g.DISTRIBUTOR, (g.MY_QR,), "zh"),
        ("邀请码", g.INVITE, (), "zh"),
        ("邀请码 ABCD2345", g.INVITE, ("abcd2345",), "zh"),
        ("邀请码ABCD2345", g.INVITE, ("abcd2345",), "zh"),
        ("code ABCD2345", g.INVITE, ("abcd2345",), "en"),
        ("invite code ABCD2345", g.INVITE, ("abcd2345",), "en"),
        ("codes", g.UNKNOWN, (), None),
        ("绑定 ABCD2345", g.BIND, ("abcd2345",), "zh"),
        ("bind ABCD2345", g.BIND, ("abcd2345",), "en"),
        ("绑定", g.BIND, (), "zh"),
        ("取消", g.CANCEL, (), "zh"),
        ("取消 2", g.CANCEL, ("2",), "zh"),
        ("取消订单2", g.CANCEL, ("2",), "zh"),
        ("Cancel", g.CANCEL, (), "en"),
        ("下一页", g.NEXT, (), "zh"),
        ("Next", g.NEXT, (), "en"),
        ("上一页", g.PREV, (), "zh"),
        ("prev", g.PREV, (), "en"),
        ("加购 2 3", g.ADD, ("2", "3"), "zh"),
        ("加购２　３", g.ADD, ("2", "3"), "zh"),  # full-width digits and space
        ("add 2", g.ADD, ("2",), "en"),
        ("改 1 3", g.SET, ("1", "3"), "zh"),
        ("删 1", g.REMOVE, ("1",), "zh"),
        ("清空购物车", g.CLEAR, (), "zh"),
        ("确认", g.CONFIRM, (), "zh"),
        ("确认。", g.CONFIRM, (), "zh"),
        ("OK!", g.CONFIRM, (), "en"),
        ("新地址", g.NEW_ADDRESS, (), "zh"),
        ("12", g.CHOOSE, ("12",), None),
        ("１２", g.CHOOSE, ("12",), None),
        ("cs2024010112000012345678", g.ORDER_NUMBER, ("CS2024010112000012345678",), None),
        ("cartoon", g.UNKNOWN, (), None),
        ("好吃吗", g.UNKNOWN, (), None),  # "好" (yes) only counts alone
        ("确认一下地址", g.UNKNOWN, (), None),
        ("", g.UNKNOWN, (), None),
        ("-1", g.UNKNOWN, (), None),
    ],
)
def test_parse(text, name, args, lang):
    cmd = g.parse(text)
    assert (cmd.name, cmd.args, cmd.lang) == (name, args, lang)


def test_argument_text_keeps_its_case_and_drops_trailing_punctuation():
    assert g.parse("search Green Tea!").rest == "Green Tea"
    assert g.parse("邀请码 ab cd-2345。").rest == "ab cd-2345"
    assert g.parse("退款 2 Broken Box。").rest == "2 Broken Box"
    assert g.parse("menu").exact and not g.parse("search x").exact


@pytest.mark.parametrize(
    ("token", "positive", "whole"),
    [("1", 1, 1), ("0", None, 0), ("-1", None, None), ("x", None, None), ("1.5", None, None),
     ("9" * 10, None, None), ("007", 7, 7)],
)
def test_number_tokens(token, positive, whole):
    assert g.positive_int(token) == positive
    assert g.whole_number(token) == whole


@pytest.mark.parametrize(
    ("fen", "text"),
    [(0, "¥0.00"), (5, "¥0.05"), (99, "¥0.99"), (100, "¥1.00"), (1234, "¥12.34"),
     (100_000_000, "¥1000000.00"), (-150, "-¥1.50")],
)
def test_yuan(fen, text):
    assert yuan(fen) == text


def test_every_text_has_both_languages_with_the_same_fields():
    import string

    for key, (zh, en) in TEXTS.items():
        fields = {f for _, f, _, _ in string.Formatter().parse(zh) if f}
        assert fields == {f for _, f, _, _ in string.Formatter().parse(en) if f}, key
        assert zh and en, key
    assert set(STATUS) == {"pending_payment", "paid", "shipped", "completed", "cancelled",
                           "refunding", "refunded", "partially_refunded"}
    assert say("en", "last_page") == "This is the last page."


def test_phone_masking_and_item_titles():
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("021-12345678") == "021-****5678"  # landlines are masked too
    assert item_title("苹果", "standard") == "苹果"
    assert item_title("龙井", "50g") == "龙井（50g）"


def test_paid_message_summarises_the_order():
    text = paid_message("zh", number="CS1", total_fen=2468, lines=[("苹果", 2, 2468)],
                        recipient="张三", phone="13800138000", address="上海市 世纪大道100号")
    assert "付款成功" in text and "CS1" in text and "苹果 × 2" in text and "¥24.68" in text
    assert "138****8000" in text
    english = paid_message("en", number="CS1", total_fen=5, lines=[], recipient="A",
                           phone="1", address="B")
    assert "Payment received" in english and "¥0.05" in english


def test_state_round_trips_through_json():
    state = State(lang="en", touched=12.5, listing={"kind": "orders", "ids": ["CS1"]},
                  flow={"name": "checkout", "step": "confirm", "token": "t"},
                  last_order={"number": "CS1", "pay_url": "u"})
    assert State.from_json(state.to_json()) == state
    assert State.from_json(state.to_json().encode()) == state


@pytest.mark.parametrize(
    "raw",
    [None, "", b"", "not json", "[]", '{"version": 999, "lang": "en"}',
     f'{{"version": {STATE_VERSION}, "lang": "fr"}}',
     f'{{"version": {STATE_VERSION}, "flow": "x"}}',
     f'{{"version": {STATE_VERSION}, "surprise": 1, "touched": "x"}}', b"\xff\xfe"],
)
def test_unreadable_or_old_state_starts_afresh(raw):
    assert State.from_json(raw) == State()
