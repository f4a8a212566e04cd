"""The pytest plugin of the suite: every shared fixture, each defined in its own small module.

Registered once by tests/conftest.py. Helpers (factories, signing, fakes) are plain
functions and classes in the other tests/support modules, imported where needed.
"""
from __future__ import annotations

pytest_plugins = [
    "tests.support.redis_server",  # redis_url
    "tests.support.databases",  # postgres_server, postgres_url
    "tests.support.apps",  # make_app, app, pg_app, any_app, client, live_sandbox
    "tests.support.workers",  # keep_signal_handlers, work_queues
    "tests.support.fake_wechat",  # fake_wechat
    "tests.support.h5",  # real_mode
]
