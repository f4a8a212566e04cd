"""``chatshop check-config``: the production checks, without starting anything.

It reads the settings the way the app would and prints every finding and every
setting that is fine; it opens no database, no Redis and builds no app, so it
works exactly when the app would refuse to start. Values are never printed
(most of them are secrets).
"""
from __future__ import annotations

import os

import click

from core.settings import build_config
from core.settings_check import (
    Finding,
    check_settings,
    fatal_findings,
    fine_settings,
    is_sandbox,
)
from webapp import _instance_path


def _settings() -> tuple[dict[str, object] | None, str | None]:
    """The app's settings from the environment, or why they cannot even be read."""
    try:
        return build_config(_instance_path() or os.path.abspath("instance"), None), None
    except RuntimeError as exc:  # a setting that must be an integer is not one
        return None, str(exc)


def _print(findings: list[Finding], sandbox: bool) -> None:
    mode = ("sandbox mode (WECHAT_SANDBOX=1): development values allowed, nothing is fatal"
            if sandbox else "production mode (WECHAT_SANDBOX off)")
    click.echo(f"ChatShop configuration, {mode}")
    width = max(len(name) for name, _ in fine_settings([])) + 2
    for finding in findings:
        label = "FATAL" if finding.fatal else "warning"
        click.echo(f"  {label:<8} {finding.setting:<{width}} {finding.problem}")
    for name, rule in fine_settings(findings):
        click.echo(f"  {'ok':<8} {name:<{width}} {rule}")


@click.command("check-config")
def check_config_command() -> None:
    """Check the settings for production; exit 1 if the app would refuse to start."""
    settings, unreadable = _settings()
    if settings is None:
        click.echo(f"ChatShop configuration cannot be read: {unreadable}", err=True)
        raise SystemExit(1)
    findings = check_settings(settings)
    sandbox = is_sandbox(settings)
    _print(findings, sandbox)
    fatal = fatal_findings(findings)
    if fatal:
        click.echo(f"{len(fatal)} fatal finding(s): the app, the worker and the data commands "
                   "refuse to start until they are fixed.")
        raise SystemExit(1)
    warnings = len(findings)
    click.echo("No fatal finding" + (f" ({warnings} warning(s))." if warnings else "."))
