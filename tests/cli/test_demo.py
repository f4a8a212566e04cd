"""``chatshop demo`` as a real process: it serves, lists products, and stops cleanly on Ctrl-C."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest
import redis

from tests.support.live_server import reserve_port
from webapp.cli import main
from webapp.extensions import db
from webapp.seed import shop_is_empty

START_TIMEOUT = 25.0


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local test server
        return response.status, response.read()


def _wait_for(log_path: str, text: str, proc: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log_path, encoding="utf-8", errors="replace") as log:
            output = log.read()
        if text in output:
            return output
        if proc.poll() is not None:
            pytest.fail(f"demo exited early with {proc.returncode}:\n{output[-4000:]}")
        time.sleep(0.2)
    pytest.fail(f"demo did not print {text!r} within {timeout} s:\n{output[-4000:]}")


@pytest.mark.slow
def test_demo_serves_and_stops_cleanly_on_sigint(tmp_path):
    port = reserve_port()
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env["CHATSHOP_INSTANCE_PATH"] = str(tmp_path / "instance")
    log_path = str(tmp_path / "demo.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from webapp.cli import main; main()", "demo",
             "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    descendants: list[psutil.Process] = []
    try:
        output = _wait_for(log_path, "Press Ctrl-C to stop.", proc, START_TIMEOUT)
        base = f"http://127.0.0.1:{port}"
        status, body = _get(base + "/readyz")
        assert status == 200, body
        status, body = _get(base + "/api/v1/products")
        assert status == 200
        assert "云南褚橙" in json.dumps(json.loads(body), ensure_ascii=False)
        assert re.search(r"operator token\s+cs_\S+", output)
        redis_url = re.search(r"redis\s+(\S+)", output).group(1)
        assert redis.Redis.from_url(redis_url).ping()

        descendants = psutil.Process(proc.pid).children(recursive=True)
        assert len(descendants) >= 4  # gunicorn master + 2 workers, the RQ worker

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=25) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    gone, alive = psutil.wait_procs(descendants, timeout=5)
    assert not alive, f"children left running: {alive}"
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()


def test_demo_port_option_and_a_taken_port(app):
    """``--port`` chooses the port; a taken one is refused at once, naming --port."""
    runner = app.test_cli_runner()
    helped = runner.invoke(main, args=["demo", "--help"])
    assert helped.exit_code == 0 and "--port INTEGER" in helped.output
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(main, args=["demo", "--port", str(port)])
    assert result.exit_code == 1
    assert f"127.0.0.1:{port} is already in use" in result.output
    assert "choose another with --port" in result.output
    assert shop_is_empty(db.session)  # refused before migrating or seeding anything
