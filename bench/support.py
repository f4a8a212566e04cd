"""What every benchmark needs: a free port, gunicorn children, plain HTTP calls, and a
migrated throw-away PostgreSQL to bulk-load."""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from tests.support.live_server import reserve_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GUNICORN_WORKERS = 2  # sync workers: the same for ChatShop and every floor it is compared with

__all__ = ["BenchDatabase", "captured_sql", "http_request", "migrated_postgres",
           "production_settings", "reserve_port", "run_load_steps", "start_gunicorn",
           "stop_process", "wait_until_serving"]


def production_settings(folder: str) -> dict[str, str]:
    """Settings that pass the production checks (core.settings_check), so a benchmark
    measures the app as deployed (sandbox off): fresh random secrets, an https public
    address, and placeholder merchant certificate files in ``folder`` (never used: the
    benchmarks make no refund or payout call)."""
    cert = os.path.join(folder, "apiclient_cert.pem")
    key = os.path.join(folder, "apiclient_key.pem")
    for path in (cert, key):
        with open(path, "w", encoding="ascii") as handle:
            handle.write("placeholder\n")
    return {
        "WECHAT_SANDBOX": "0", "SECRET_KEY": secrets.token_urlsafe(48),
        "WECHAT_TOKEN": secrets.token_hex(8), "WECHAT_APP_ID": "wxbench" + secrets.token_hex(5),
        "WECHAT_APP_SECRET": secrets.token_hex(16),
        "WECHAT_MCH_ID": "16" + f"{secrets.randbelow(10**8):08d}",
        "WECHAT_PAY_API_KEY": secrets.token_hex(16), "WECHAT_PAY_CERT_PATH": cert,
        "WECHAT_PAY_KEY_PATH": key, "PUBLIC_BASE_URL": "https://bench.chatshop.invalid",
    }


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


class BenchDatabase(NamedTuple):
    """A migrated throw-away database: its SQLAlchemy URL, libpq DSN and app environment."""

    url: str
    dsn: str
    env: dict[str, str]


@contextmanager
def migrated_postgres(name: str = "chatshop_bench") -> Iterator[BenchDatabase]:
    """A throw-away PostgreSQL cluster with ChatShop's schema; stopped and removed after."""
    from tests.support.postgres import create_database, start_postgres

    tmp = tempfile.mkdtemp(prefix="chatshop-bench-")
    server = start_postgres()
    try:
        create_database(server.admin_url, name)
        url = server.url(name)
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": url, "CHATSHOP_INSTANCE_PATH": os.path.join(tmp, "instance"),
            **production_settings(tmp),
            # Bulk-loaded benchmarks use no Redis; connections are lazy, so none is started.
            "REDIS_URL": "redis://127.0.0.1:9/0",
        })
        subprocess.run([str(BIN / "chatshop"), "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        yield BenchDatabase(url, url.replace("postgresql+psycopg", "postgresql"), env)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


LoadSteps = Sequence[tuple[str, Sequence[str]]]


def run_load_steps(
    dsn: str, steps: LoadSteps, literals: Mapping[str, str],
    check: Callable[[Any], None] | None = None,
) -> list[tuple[str, float]]:
    """Bulk-load with plain SQL: each named step in its own transaction, then ``check(conn)``
    and VACUUM ANALYZE; the time each took. ``literals`` replace placeholders in the SQL."""
    import psycopg

    timings = []
    with psycopg.connect(dsn) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute("SET work_mem = '64MB'")
        conn.commit()
        for name, statements in steps:
            began = time.perf_counter()
            for sql in statements:
                for key, value in literals.items():
                    sql = sql.replace(key, value)
                try:
                    conn.execute(sql)
                except psycopg.Error as exc:
                    raise RuntimeError(f"load step {name}: {exc}\n{sql}") from exc
            conn.commit()
            timings.append((name, time.perf_counter() - began))
        if check is not None:
            check(conn)
        conn.commit()
        conn.autocommit = True
        began = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        timings.append(("vacuum analyze", time.perf_counter() - began))
    return timings


@contextmanager
def captured_sql(engine: Any) -> Iterator[list[tuple[str, Any]]]:
    """Record the statements (and parameters) the engine sends while the block runs."""
    from sqlalchemy import event

    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
