"""The three ways to use the queue: run a worker, queue sync jobs now, or queue them on a schedule.

Each opens its own connection pool on the queue's database and creates Procrastinate's tables the first time
(:func:`.app.ensure_schema`); a database that cannot be reached is a :class:`ConfigurationError` naming it (its
password hidden), found before Procrastinate's pool would wait half a minute for it.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from ..errors import UnimeterError
from ..redaction import redact_text, redact_url
from .app import (
    ACCOUNT_LISTER,
    RUNNER,
    AccountLister,
    DeferReport,
    SyncJob,
    SyncRunner,
    build_app,
    defer_syncs,
    ensure_schema,
    register_schedule,
    register_worker_periodics,
)
from .settings import SCHEDULE_QUEUE, SYNC_QUEUE, WorkerSettings

CONNECT_TIMEOUT_SECONDS = 10


class QueueUnavailableError(UnimeterError):
    """The queue's database cannot be reached (its password is never in the message)."""

    code = "queue_unavailable"
    http_status = 503


def check_reachable(url: str) -> None:
    """Connect once: a clear error now instead of a pool timeout later."""
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS).close()
    except psycopg.Error as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        password = urlsplit(url).password
        reason = redact_text(reason, (password,) if password else ())
        raise QueueUnavailableError(f"cannot connect to the queue database {redact_url(url)}: {reason}") from None


def default_worker_name() -> str:
    """Host and process id: what a person needs to find the worker a job ran on in the logs."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def _work(settings: WorkerSettings, runner: SyncRunner) -> None:
    app = build_app(settings.queue_url, concurrency=settings.concurrency)
    register_worker_periodics(app, settings.stalled_check_cron)
    async with app.open_async():
        await ensure_schema(app)
        await app.run_worker_async(
            queues=[SYNC_QUEUE],
            concurrency=settings.concurrency,
            name=settings.name or default_worker_name(),
            additional_context={RUNNER: runner, "stalled_after": settings.stalled_after},
            update_heartbeat_interval=settings.heartbeat_every,
            stalled_worker_timeout=settings.stalled_after,
        )


def run_worker(settings: WorkerSettings, runner: SyncRunner) -> None:
    """Take sync jobs until SIGINT or SIGTERM (then finish the running ones; a second signal stops at once).

    The caller checks the queue is reachable first (:func:`check_reachable`)."""
    asyncio.run(_work(settings, runner))


async def _enqueue(url: str, jobs: Sequence[SyncJob]) -> DeferReport:
    app = build_app(url)
    async with app.open_async():
        await ensure_schema(app)
        return await defer_syncs(app, jobs)


def enqueue(url: str, jobs: Sequence[SyncJob]) -> DeferReport:
    """Queue a sync job per account now, for whichever worker is free."""
    check_reachable(url)
    return asyncio.run(_enqueue(url, jobs))


async def _schedule(
    url: str,
    cron: str,
    account_ids: Sequence[str],
    environment: str | None,
    reports: Sequence[str],
    lister: AccountLister,
) -> None:
    app = build_app(url)
    register_schedule(app, cron, account_ids, environment, reports)
    async with app.open_async():
        await ensure_schema(app)
        # A worker of the schedule's own queue: Procrastinate's periodic deferrer defers each tick (once, however
        # many schedule processes run), and this process runs the tick, which queues the accounts' sync jobs.
        await app.run_worker_async(
            queues=[SCHEDULE_QUEUE],
            name=f"schedule@{default_worker_name()}",
            additional_context={ACCOUNT_LISTER: lister},
        )


def run_schedule(
    url: str,
    cron: str,
    account_ids: Sequence[str],
    environment: str | None,
    reports: Sequence[str],
    lister: AccountLister,
) -> None:
    """Queue the accounts' sync jobs at every tick of ``cron`` until SIGINT or SIGTERM."""
    check_reachable(url)
    asyncio.run(_schedule(url, cron, account_ids, environment, reports, lister))
