"""H5 pages and share links refuse hostile requests and change nothing."""
from __future__ import annotations

import pytest

from tests.support.hostile import corpus_h5
from tests.support.hostile.support import Case, World, params, run_case


@pytest.mark.parametrize("case", params(corpus_h5.cases()))
def test_h5_refuses(world: World, case: Case) -> None:
    run_case(world, case)
