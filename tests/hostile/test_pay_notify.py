"""WeChat Pay's payment and refund notifies: hostile bodies get a FAIL ack and change nothing."""
from __future__ import annotations

import pytest

from tests.support.hostile import corpus_pay
from tests.support.hostile.support import Case, World, params, run_case


@pytest.mark.parametrize("case", params(corpus_pay.cases()))
def test_pay_callbacks_refuse(world: World, case: Case) -> None:
    run_case(world, case)
