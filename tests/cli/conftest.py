"""Fixtures for the CLI tests."""
from tests.workers.conftest import keep_signal_handlers  # noqa: F401  (RQ workers set handlers)
