"""Every REST API operation in the OpenAPI document refuses hostile requests and changes nothing."""
from __future__ import annotations

import pytest

from tests.support.hostile import corpus_api
from tests.support.hostile.support import Case, World, params, run_case


@pytest.mark.parametrize("case", params(corpus_api.cases()))
def test_api_refuses(world: World, case: Case) -> None:
    run_case(world, case)
