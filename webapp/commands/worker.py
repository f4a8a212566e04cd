"""``chatshop worker``: an RQ worker for ChatShop's queues, with the schedulers."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from webapp.redis_conn import resolve_redis_url
from workers.runner import parse_queue_names, run_worker


@click.command("worker")
@click.option("--burst", is_flag=True, help="Quit once the queues are empty.")
@click.option(
    "--queues",
    "-q",
    "queues",
    multiple=True,
    metavar="NAMES",
    help="Queues to listen on, in priority order, comma separated or repeated "
    "(default: payments,notifications,default).",
)
@click.option(
    "--scheduler/--no-scheduler",
    default=True,
    show_default=True,
    help="Also run the schedulers (delayed jobs, retries, periodic jobs); "
    "one worker leads them at a time.",
)
@click.option("--name", default=None, help="Worker name (default: random).")
@with_appcontext
def worker_command(burst: bool, queues: tuple[str, ...], scheduler: bool, name: str | None) -> None:
    """Run an RQ worker: jobs run in the app context, one forked process per job."""
    try:
        names = parse_queue_names(queues)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--queues") from exc
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    run_worker(app, resolve_redis_url(app), names, burst=burst, with_scheduler=scheduler,
               name=name)
