"""The official-account webhook refuses every hostile request and changes nothing."""
from __future__ import annotations

import pytest

from tests.support.hostile import corpus_wechat
from tests.support.hostile.support import Case, World, params, run_case


@pytest.mark.parametrize("case", params(corpus_wechat.cases()))
def test_webhook_refuses(world: World, case: Case) -> None:
    run_case(world, case)
