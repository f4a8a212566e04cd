"""The corpus itself: its size per entry point, its reach, its registry, and its harness."""
from __future__ import annotations

import fnmatch
from collections import Counter

import pytest

from core.models import User
from tests.support.hostile import corpus_api, corpus_h5, corpus_pay, corpus_wechat
from tests.support.hostile.known_failures import KNOWN_FAILURES
from tests.support.hostile.support import REFUSED, Case, Req, World, run_case, snapshot
from webapp.extensions import db

MINIMUM_CASES = 300


def all_cases() -> list[Case]:
    """Every case of every entry point."""
    return (corpus_wechat.cases() + corpus_pay.cases() + corpus_api.cases()
            + corpus_h5.cases())


def test_the_corpus_has_enough_cases_at_every_entry_point(capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    cases = all_cases()
    counts = Counter(case.entry for case in cases)
    with capsys.disabled():
        print("\nhostile corpus: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
              + f", total {len(cases)}")
    assert len(cases) >= MINIMUM_CASES
    assert set(counts) == {"webhook-get", "webhook-post", "webhook-safe", "pay-notify",
                           "refund-notify", "api", "h5", "share"}
    assert min(counts.values()) >= 20
    assert len({case.id for case in cases}) == len(cases), "case ids must be unique"


def test_every_api_operation_that_takes_input_has_cases() -> None:
    names = {case.name for case in corpus_api.cases()}
    for method, path, op in corpus_api.operations():
        if not (op.get("security") or op["parameters"] or "requestBody" in op):
            continue  # e.g. the anonymous category list: nothing a caller can make hostile
        assert any(name.startswith(f"{method} {path} ") for name in names), (method, path)


def test_every_known_failure_still_names_a_case() -> None:
    ids = [case.id for case in all_cases()]
    for pattern in KNOWN_FAILURES:
        assert any(fnmatch.fnmatchcase(i, pattern) for i in ids), f"stale entry {pattern}"


def test_the_harness_notices_an_accepted_request_and_undoes_it(world: World) -> None:
    pristine = snapshot()
    db.session.add(User(openid="o-harness-check", nickname="harness"))
    db.session.commit()
    assert snapshot() != pristine  # the snapshot sees one new row
    world.restore()
    assert snapshot() == pristine
    accepted = Case("api", "genuine address", lambda w: Req(
        "POST", "/api/v1/addresses", headers={"Authorization": "Bearer " + w.tokens["consumer"]},
        data=b'{"recipient": "A", "phone": "13800138000", "detail": "Road 1"}',
        content_type="application/json"), REFUSED)
    with pytest.raises(AssertionError, match="genuine address"):
        run_case(world, accepted)
    assert snapshot() == pristine  # restored after the failed case
