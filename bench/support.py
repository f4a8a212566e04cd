"""What every benchmark needs: a free port, gunicorn children, plain HTTP calls."""
from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from tests.support.live_server import reserve_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GUNICORN_WORKERS = 2  # sync workers: the same for ChatShop and every floor it is compared with

__all__ = ["http_request", "reserve_port", "start_gunicorn", "stop_process", "wait_until_serving"]


def http_request(
    url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, bytes]:
    """POST ``body`` (GET when None); the status and body, error statuses included."""
    req = urllib.request.Request(url, data=body, headers=dict(headers or {}),
                                 method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def start_gunicorn(app_path: str, port: int, env: Mapping[str, str],
                   cwd: Path = ROOT) -> subprocess.Popen[bytes]:
    """Serve ``app_path`` on 127.0.0.1:``port`` with the benchmarks' gunicorn settings."""
    return subprocess.Popen(
        [str(BIN / "gunicorn"), "-w", str(GUNICORN_WORKERS), "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "--pythonpath", str(ROOT), app_path],
        cwd=cwd, env=dict(env),
    )


def wait_until_serving(probe: Callable[[], object], proc: subprocess.Popen[bytes],
                       what: str, timeout: float = 60) -> None:
    """Call ``probe`` until it stops raising OSError; fail if ``proc`` dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what}: server exited with {proc.returncode}")
        try:
            probe()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} not serving within {timeout:.0f} s")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 20 s."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
