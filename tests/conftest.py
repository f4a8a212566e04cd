"""The test suite's fixtures come from the tests/support plugin, registered here once.

PostgreSQL and Redis are started by the test session itself. If either cannot
start, the tests that need it error out: they are never skipped.
"""
from __future__ import annotations

pytest_plugins = ["tests.support.plugin"]
