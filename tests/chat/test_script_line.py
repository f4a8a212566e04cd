"""ScriptLine: scripts on connections of our own, with replies that may be read later."""
from __future__ import annotations

import logging

import pytest

from storefront.lua import Lua, ScriptLine
from webapp.redis_conn import get_redis

INCR = Lua("return redis.call('INCRBY', KEYS[1], ARGV[1])", name="incr")


@pytest.fixture
def line(app):
    return ScriptLine(get_redis())


def test_a_call_waits_for_its_reply_and_reloads_a_flushed_script(line):
    assert line.call(INCR, ["line:a"], [2]) == 2
    get_redis().script_flush()  # a restarted server has no scripts
    assert INCR(line, ["line:a"], [3]) == 5


def test_a_sent_script_runs_and_the_next_use_reads_its_reply_first(line):
    line.send(INCR, ["line:b"], [1])
    line.send(INCR, ["line:b"], [1])
    # The same connection: every reply is read in turn, so this sees both.
    assert line.call(INCR, ["line:b"], [0]) == 2


def test_settle_reads_what_is_owed(line):
    line.send(INCR, ["line:c"], [7])
    line.settle()
    assert get_redis().get("line:c") == b"7"
    line.settle()  # nothing owed: nothing to read


def test_a_failed_sent_script_is_logged_by_the_next_use(line, caplog):
    get_redis().set("line:d", "not a number")
    line.send(INCR, ["line:d"], [1])
    with caplog.at_level(logging.ERROR, logger="storefront.lua"):
        assert line.call(INCR, ["line:e"], [1]) == 1
    assert "incr script sent without waiting failed" in caplog.text


def test_a_connection_the_server_dropped_is_made_again(line):
    assert line.call(INCR, ["line:f"], [1]) == 1
    get_redis().client_kill_filter(_type="normal", skipme=True)
    assert line.call(INCR, ["line:f"], [1]) == 2


def test_concurrent_users_get_connections_of_their_own(line):
    import threading

    barrier = threading.Barrier(4)
    results = []

    def work():
        barrier.wait()
        for _ in range(50):
            results.append(line.call(INCR, ["line:g"], [1]))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(1, 201))
