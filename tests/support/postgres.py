"""Start a throw-away PostgreSQL server for the test session.

PostgreSQL refuses to run as root, so as root the cluster is created and run
as the ``postgres`` user in a temporary directory; as any other user it runs
as that user. ``CHATSHOP_TEST_POSTGRES_URL`` skips all this and uses a server
you already have.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass

from tests.support.live_server import reserve_port


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be started."""


def _bindir() -> str:
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        path = out.stdout.strip()
        if os.path.exists(os.path.join(path, "initdb")):
            return path
    except (OSError, subprocess.CalledProcessError):
        pass
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not candidates:
        raise PostgresUnavailable("initdb not found (install postgresql, see scripts/ci-deps.sh)")
    return os.path.dirname(candidates[0])




@dataclass
class PostgresServer:
    """A running temporary cluster."""

    datadir: str
    port: int
    bindir: str
    as_user: str | None

    @property
    def admin_url(self) -> str:
        """URL of the maintenance database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, dbname: str) -> str:
        """URL of a database on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self.as_user:
            cmd = ["runuser", "-u", self.as_user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True)

    def stop(self) -> None:
        """Stop the server and remove its files."""
        try:
            self._run(os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir, "-m", "immediate",
                      "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(os.path.dirname(self.datadir), ignore_errors=True)


def start_postgres() -> PostgresServer:
    """Create and start a fast, non-durable cluster on a free loopback port."""
    bindir = _bindir()
    as_user = "postgres" if os.geteuid() == 0 else None
    root = tempfile.mkdtemp(prefix="chatshop-pg-")
    datadir = os.path.join(root, "data")
    if as_user:
        shutil.chown(root, user=as_user)
        os.chmod(root, 0o755)
    server = PostgresServer(datadir, reserve_port(), bindir, as_user)
    try:
        server._run(os.path.join(bindir, "initdb"), "-D", datadir, "-A", "trust", "-U", "postgres",
                    "-E", "UTF8", "--no-sync")
        opts = (
            f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        server._run(os.path.join(bindir, "pg_ctl"), "-D", datadir, "-o", opts,
                    "-l", os.path.join(root, "server.log"), "-w", "-t", "60", "start")
    except subprocess.CalledProcessError as exc:
        log = ""
        logfile = os.path.join(root, "server.log")
        if os.path.exists(logfile):
            with open(logfile) as fh:
                log = fh.read()[-2000:]
        raise PostgresUnavailable(f"{exc.cmd}: {exc.stderr}\n{log}") from exc
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    raise PostgresUnavailable("PostgreSQL did not start listening within 30 s")


def create_database(server_admin_url: str, name: str) -> None:
    """Create (or recreate) a database."""
    import psycopg

    dsn = server_admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
