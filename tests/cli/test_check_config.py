"""``chatshop check-config`` and the refusal of data commands, run in a clean environment."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from webapp.cli import REFUSED_EXIT_CODE, main

FATAL_NAMES = ["SECRET_KEY", "WECHAT_TOKEN", "WECHAT_APP_ID", "WECHAT_APP_SECRET", "WECHAT_MCH_ID",
               "WECHAT_PAY_API_KEY", "WECHAT_PAY_CERT_PATH", "WECHAT_PAY_KEY_PATH",
               "PUBLIC_BASE_URL"]
# Nothing listens there: a command that opened the database or Redis would fail or hang.
UNREACHABLE = {"DATABASE_URL": "postgresql+psycopg://nobody:pw@127.0.0.1:9/none",
               "REDIS_URL": "redis://127.0.0.1:9/0"}


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "CHATSHOP_INSTANCE_PATH": str(tmp_path / "instance"),
            **extra}


def _safe(tmp_path: Path) -> dict[str, str]:
    cert, key = tmp_path / "apiclient_cert.pem", tmp_path / "apiclient_key.pem"
    cert.write_text("cert")
    key.write_text("key")
    return {"SECRET_KEY": "q" * 48, "WECHAT_TOKEN": "prodToken123",
            "WECHAT_APP_ID": "wx0011223344556677", "WECHAT_APP_SECRET": "e" * 32,
            "WECHAT_MCH_ID": "1611111111", "WECHAT_PAY_API_KEY": "K" * 32,
            "WECHAT_PAY_CERT_PATH": str(cert), "WECHAT_PAY_KEY_PATH": str(key),
            "PUBLIC_BASE_URL": "https://shop.example.com"}


def _chatshop(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "webapp.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def _rows(output: str) -> dict[str, str]:
    """setting → its label (FATAL, warning, ok) from check-config's table."""
    rows = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in {"FATAL", "warning", "ok"}:
            rows[parts[1]] = parts[0]
    return rows


def test_check_config_lists_every_problem_and_exits_1(tmp_path: Path):
    result = _chatshop(_env(tmp_path, **UNREACHABLE), "check-config")
    assert result.returncode == 1, result.stdout + result.stderr
    rows = _rows(result.stdout)
    assert {name for name, label in rows.items() if label == "FATAL"} == set(FATAL_NAMES)
    assert rows["WECHAT_API_BASE_URL"] == "ok"
    assert rows["WECHAT_ENCODING_AES_KEY"] == "warning"
    assert "9 fatal finding(s)" in result.stdout
    assert "Traceback" not in result.stderr
    # Nothing was started or created: no instance folder, no database, no Redis.
    assert not (tmp_path / "instance").exists()


def test_check_config_with_safe_settings_exits_0(tmp_path: Path):
    env = _env(tmp_path, **_safe(tmp_path), **UNREACHABLE, WECHAT_ENCODING_AES_KEY="a" * 43)
    result = _chatshop(env, "check-config")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = _rows(result.stdout)
    assert "FATAL" not in rows.values()
    assert rows["SECRET_KEY"] == rows["WECHAT_PAY_CERT_PATH"] == rows["PUBLIC_BASE_URL"] == "ok"
    assert rows["WECHAT_ENCODING_AES_KEY"] == rows["DATABASE_URL"] == "ok"
    assert "No fatal finding" in result.stdout
    # Secrets are never printed.
    assert "q" * 48 not in result.stdout and "K" * 32 not in result.stdout


def test_check_config_in_sandbox_mode_exits_0(tmp_path: Path):
    result = _chatshop(_env(tmp_path, WECHAT_SANDBOX="1"), "check-config")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sandbox mode" in result.stdout
    assert _rows(result.stdout)["SECRET_KEY"] == "warning"


def test_check_config_reports_a_setting_it_cannot_read(tmp_path: Path):
    result = _chatshop(_env(tmp_path, WECHAT_REPLY_WORKERS="many"), "check-config")
    assert result.returncode == 1
    assert "WECHAT_REPLY_WORKERS must be an integer" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_data_command_is_refused_with_one_message_and_exit_2(tmp_path: Path):
    result = _chatshop(_env(tmp_path, **UNREACHABLE), "ledger", "check")
    assert result.returncode == REFUSED_EXIT_CODE == 2
    assert result.stderr.startswith("ChatShop refuses to start")
    for name in FATAL_NAMES:
        assert f"  - {name}: " in result.stderr
    assert "Traceback" not in result.stderr
    assert "Usage:" not in result.stderr
    assert not (tmp_path / "instance").exists()


def test_the_worker_is_refused_too(tmp_path: Path):
    result = _chatshop(_env(tmp_path, **UNREACHABLE), "worker", "--burst")
    assert result.returncode == 2
    assert "  - WECHAT_PAY_API_KEY: " in result.stderr
    assert "Traceback" not in result.stderr


def test_help_still_lists_check_config_when_refused(tmp_path: Path):
    result = _chatshop(_env(tmp_path, **UNREACHABLE), "--help")
    assert result.returncode == 0
    assert "check-config" in result.stdout
    assert "ChatShop refuses to start" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_through_click(tmp_path: Path):
    # The command itself builds no app: no ScriptInfo, no app context needed.
    env = {name: "" for name in FATAL_NAMES}
    env.update(CHATSHOP_INSTANCE_PATH=str(tmp_path / "instance"), WECHAT_SANDBOX="0")
    result = CliRunner().invoke(main, ["check-config"], env=env)
    assert result.exit_code == 1, result.output
    assert "is not set" in result.output
