"""The helpers behind issue 9 §2: the table of bounds, the storable-text check, the JSON
depth and text walk of the API parser, and the formula-safe CSV writer."""
from __future__ import annotations

import csv
import io
import json

import pytest

from commissions.csv_export import csv_text, safe_cell
from commissions.plans import PlanError, PlanVersion
from core.bounds import (
    MAX_ID,
    MAX_JSON_DEPTH,
    MAX_RETURN_WINDOW_DAYS,
    is_id,
    is_whole,
    text_problem,
    within,
)
from webapp.http.api.common import json_problems


def test_whole_numbers_and_ids():
    assert is_whole(0) and is_whole(-5) and is_whole(2**70)
    assert not is_whole(True) and not is_whole(1.0) and not is_whole("1")
    assert within(5, 0, 5) and not within(6, 0, 5) and not within(False, 0, 5)
    assert is_id(1) and is_id(MAX_ID)
    assert not is_id(0) and not is_id(MAX_ID + 1) and not is_id(2**63)


@pytest.mark.parametrize("text", ["", "plain", "张三", "emoji 🍵", "tab\tand\nnewline"])
def test_storable_text(text):
    assert text_problem(text) is None


@pytest.mark.parametrize("text,word", [
    ("\ud800", "surrogate"), ("a\udfffb", "surrogate"), ("\x00", "NUL"), ("ab\x00", "NUL"),
])
def test_unstorable_text(text, word):
    problem = text_problem(text)
    assert problem is not None and word in problem


@pytest.mark.parametrize("days", [MAX_RETURN_WINDOW_DAYS + 1, 2**31, 2**63 - 1, 10**30, 10**5000],
                         ids=["366", "2**31", "2**63-1", "10**30", "10**5000"])
def test_plan_refuses_a_return_window_beyond_the_bound(days):
    with pytest.raises(PlanError) as caught:
        PlanVersion((1000, 500), return_window_days=days)
    assert "return_window_days" in str(caught.value)
    assert len(str(caught.value)) < 200  # a huge number is not echoed back in full


def test_plan_accepts_the_longest_window():
    assert PlanVersion((1000, 500), return_window_days=MAX_RETURN_WINDOW_DAYS)


def _nested(depth: int) -> object:
    return json.loads("[" * (depth - 1) + "{}" + "]" * (depth - 1))


def test_json_depth_limit():
    assert json_problems(_nested(MAX_JSON_DEPTH)) == (False, {})
    assert json_problems(_nested(MAX_JSON_DEPTH + 1))[0] is True
    assert json_problems({"a": [{"b": 1}]}) == (False, {})


def test_json_text_problems_name_the_path():
    too_deep, errors = json_problems({"title": "ok", "skus": [{"name": "x"}, {"name": "\ud800"}],
                                      "\x00key": 1})
    assert not too_deep
    assert list(errors["skus"][1]["name"]) == [text_problem("\ud800")]
    assert ascii("\x00key") in errors
    assert json_problems(["\x00"])[1] == {0: [text_problem("\x00")]}
    assert json_problems("\ud800")[1] == {"_schema": [text_problem("\ud800")]}


@pytest.mark.parametrize("value,cell", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("＝1+1", "'＝1+1"),
    ("plain", "plain"), ("张三", "张三"), ("", ""), (None, ""),
    (-100, "-100"), ("-100", "-100"), ("-12.05", "-12.05"), (42, "42"), ("1.5e3", "1.5e3"),
    ("-1e3", "'-1e3"), ("--1", "'--1"),
])
def test_safe_cell(value, cell):
    assert safe_cell(value) == cell


def test_csv_text_neutralises_every_cell_and_reads_back():
    text = csv_text(["name", "amount"], [["=HYPERLINK(\"x\")", "-3.00"], ["ok", 7]])
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["name", "amount"], ["'=HYPERLINK(\"x\")", "-3.00"], ["ok", "7"]]
