"""The Procrastinate app of unimeter's queue: its tasks, its schema, and how jobs are queued.

Tasks (their names are what the queue's rows carry, so they never change):

- ``unimeter.sync_account``: one sync run of one account (:class:`SyncJob` as keyword arguments), with Procrastinate's
  ``lock`` set to the account: however many workers run, one job of an account runs at a time, and the next starts
  once it ended. A job identical to one already waiting is not queued again (:func:`defer_syncs`), so a schedule
  faster than the syncs never piles jobs up. Retried with exponential backoff on retryable failures only
  (:mod:`.retry`).
- ``unimeter.retry_stalled_jobs``: Procrastinate's documented recovery of the jobs of a worker that died (kill -9,
  a lost machine): jobs in ``doing`` whose worker's heartbeat is older than the stalled timeout go back to ``todo``.
  Each worker registers it as a periodic task; the database defers each tick once, and one worker runs it.
- ``unimeter.remove_old_jobs``: hourly, deletes succeeded jobs older than three days, so the stalled-job ticks and
  finished syncs do not pile up (failed jobs stay for a person to read).
- ``unimeter.scheduled_sync``: one tick of ``unimeter sync --schedule CRON``: queues a sync job per account.

Why not Procrastinate's ``queueing_lock`` for sync jobs: it allows one waiting job per lock, and a job going back to
waiting (a retry after a vendor outage, a dead worker's job put back) while the account's next job waits would
violate it; Procrastinate then raises and the job stays running on a live worker, its ``lock`` blocking the account
for ever. Dropping only identical jobs also keeps a ``--since`` or ``--full-refresh`` job that meets a routine one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import procrastinate
from procrastinate import exceptions as queue_errors
from procrastinate import utils
from procrastinate.job_context import JobContext
from psycopg.types.json import Jsonb

from .retry import sync_retry_strategy
from .settings import SCHEDULE_QUEUE, SYNC_QUEUE

logger = logging.getLogger("unimeter.queue")

SYNC_TASK = "unimeter.sync_account"
RETRY_STALLED_TASK = "unimeter.retry_stalled_jobs"
REMOVE_OLD_JOBS_TASK = "unimeter.remove_old_jobs"
SCHEDULED_SYNC_TASK = "unimeter.scheduled_sync"
KEEP_SUCCEEDED_HOURS = 72
MAINTENANCE_PRIORITY = 10
"""Above sync jobs (priority 0): a free worker first puts a dead worker's jobs back, then takes the next sync."""
RUNNER = "unimeter_sync_runner"
"""The key of the worker's :data:`SyncRunner` in Procrastinate's ``additional_context``."""
ACCOUNT_LISTER = "unimeter_account_lister"
"""The key of the scheduler's :data:`AccountLister` in ``additional_context``."""
# Advisory lock ids of our own (any constants: they only have to differ from the other advisory locks on the database).
_SCHEMA_LOCK = 72026113
_DEFER_LOCK = 72026114


@dataclass(frozen=True)
class SyncJob:
    """What one sync job asks for: an account (by id, never its credentials) and the sync's options."""

    account_id: str
    environment: str
    since: str | None = None
    full_refresh: bool = False
    reports: tuple[str, ...] = ()
    """Only these reports (``--report``); empty: every report of the account's integration."""

    def kwargs(self) -> dict[str, Any]:
        return {**asdict(self), "reports": list(self.reports)}

    @property
    def lock(self) -> str:
        """The account's key: Procrastinate runs one job of a lock at a time, whoever queued it."""
        return f"unimeter-sync:{self.environment}:{self.account_id}"


SyncRunner = Callable[[SyncJob], dict[str, Any]]
"""Runs one sync in the worker's thread and returns a small summary (rows per report) for the job's log."""
AccountLister = Callable[[Sequence[str], str | None], list[tuple[str, str]]]
"""The accounts of a schedule's tick: (account ids, or none for all; environment or None) -> (id, environment)."""


@dataclass
class DeferReport:
    """What an enqueue did: the jobs it queued, and those already waiting (the same job, not queued twice)."""

    queued: list[SyncJob] = field(default_factory=list)
    already_waiting: list[SyncJob] = field(default_factory=list)


def build_app(url: str, *, concurrency: int = 1) -> procrastinate.App:
    """The queue at ``url`` (PostgreSQL) with unimeter's tasks; open it with ``async with app.open_async()``."""
    # A small pool: a worker holds one connection to listen, one for its heartbeats and fetches, and one while a
    # job's status changes; the jobs' own work (store, destination) opens connections of its own.
    connector = procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=concurrency + 3)
    app = procrastinate.App(connector=connector)
    app.task(name=SYNC_TASK, queue=SYNC_QUEUE, pass_context=True, retry=sync_retry_strategy())(_sync_account)
    app.task(name=RETRY_STALLED_TASK, queue=SYNC_QUEUE, pass_context=True, priority=MAINTENANCE_PRIORITY)(
        _retry_stalled_jobs
    )
    app.task(name=REMOVE_OLD_JOBS_TASK, queue=SYNC_QUEUE, pass_context=True, priority=MAINTENANCE_PRIORITY)(
        _remove_old_jobs
    )
    app.task(name=SCHEDULED_SYNC_TASK, queue=SCHEDULE_QUEUE, pass_context=True)(_scheduled_sync)
    return app


def register_worker_periodics(app: procrastinate.App, stalled_check_cron: str) -> None:
    """The periodic tasks every worker defers (deduplicated by the database, so N workers make one job a tick)."""
    app.periodic_registry.register_task(
        task=app.tasks[RETRY_STALLED_TASK],
        cron=stalled_check_cron,
        periodic_id="",
        configure_kwargs={"queueing_lock": RETRY_STALLED_TASK},
    )
    app.periodic_registry.register_task(
        task=app.tasks[REMOVE_OLD_JOBS_TASK],
        cron="17 * * * *",
        periodic_id="",
        configure_kwargs={"queueing_lock": REMOVE_OLD_JOBS_TASK},
    )


def register_schedule(
    app: procrastinate.App,
    cron: str,
    account_ids: Sequence[str],
    environment: str | None,
    reports: Sequence[str] = (),
) -> None:
    """A schedule's periodic tick. Its id is the cron and the selection, so two schedule processes with the same
    schedule defer each tick once, and two different schedules both run. The tick carries the selection, since any
    schedule process may run it."""
    selection = [environment or "*", ",".join(sorted(account_ids)) or "*", ",".join(sorted(reports)) or "*"]
    schedule_id = "|".join([cron, *selection])
    app.periodic_registry.register_task(
        task=app.tasks[SCHEDULED_SYNC_TASK],
        cron=cron,
        periodic_id=schedule_id,
        configure_kwargs={
            "queueing_lock": f"{SCHEDULED_SYNC_TASK}:{schedule_id}",
            "task_kwargs": {"account_ids": list(account_ids), "environment": environment, "reports": list(reports)},
        },
    )


async def ensure_schema(app: procrastinate.App) -> bool:
    """Create Procrastinate's tables unless they exist; True when this call created them.

    Several workers may start at once on a fresh database: an advisory lock makes one of them create the schema and
    the others wait and find it there.
    """
    pool = app.connector.pool  # type: ignore[attr-defined]
    async with pool.connection() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        cursor = await connection.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
        row = await cursor.fetchone()
        if row is not None and row[0]:
            return False
        await connection.execute(app.schema_manager.get_schema())
    return True


async def defer_syncs(app: procrastinate.App, jobs: Sequence[SyncJob]) -> DeferReport:
    """Queue a sync job per account; a job identical to one that already waits is reported, not queued twice.

    The check and the insert are one transaction under an advisory lock on the account, so two processes queueing
    the same job at once queue it once.
    """
    report = DeferReport()
    pool = app.connector.pool  # type: ignore[attr-defined]
    for job in jobs:
        async with pool.connection() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_DEFER_LOCK, job.lock))
            cursor = await connection.execute(
                "SELECT 1 FROM procrastinate_jobs WHERE task_name = %s AND lock = %s AND status = 'todo' "
                "AND args = %s LIMIT 1",
                (SYNC_TASK, job.lock, Jsonb(job.kwargs())),
            )
            if await cursor.fetchone() is not None:
                report.already_waiting.append(job)
                continue
            await app.configure_task(SYNC_TASK, lock=job.lock, connection=connection).defer_async(**job.kwargs())
            report.queued.append(job)
    return report


def _sync_account(
    context: JobContext,
    *,
    account_id: str,
    environment: str,
    since: str | None = None,
    full_refresh: bool = False,
    reports: list[str] | None = None,
) -> dict[str, Any]:
    """Run in a worker thread (Procrastinate runs a plain function's job off the event loop), so that a long sync
    does not hold up the worker's heartbeats and its other jobs."""
    runner: SyncRunner = context.additional_context[RUNNER]
    job = SyncJob(account_id, environment, since, full_refresh, tuple(reports or ()))
    logger.info("worker %s: job %s syncs account %s", context.worker_name, context.job.id, account_id)
    return runner(job)


async def _retry_stalled_jobs(context: JobContext, timestamp: int) -> int:
    """Procrastinate's recipe (docs: "Retry stalled jobs"): jobs of workers with no heartbeat for the timeout."""
    seconds: float = context.additional_context.get("stalled_after", 30.0)
    # Only the workers' own queue: the schedule processes beat at Procrastinate's default pace, not this one.
    stalled = list(await context.app.job_manager.get_stalled_jobs(queue=SYNC_QUEUE, seconds_since_heartbeat=seconds))
    for job in stalled:
        try:
            await context.app.job_manager.retry_job(job, retry_at=utils.utcnow())
        except queue_errors.UniqueViolation:
            # A maintenance or schedule tick (they have a queueing lock) whose next tick already waits: that one runs.
            assert job.id is not None
            await context.app.job_manager.finish_job_by_id_async(job.id, procrastinate.jobs.Status.FAILED, False)
            logger.warning(
                "job %s (%s) was running on a worker that stopped: its next tick will run", job.id, job.task_name
            )
        else:
            logger.warning("job %s (%s) was running on a worker that stopped: queued again", job.id, job.task_name)
    return len(stalled)


async def _remove_old_jobs(context: JobContext, timestamp: int) -> None:
    await context.app.job_manager.delete_old_jobs(nb_hours=KEEP_SUCCEEDED_HOURS)


async def _scheduled_sync(
    context: JobContext,
    timestamp: int,
    account_ids: list[str],
    environment: str | None,
    reports: list[str] | None = None,
) -> dict[str, int]:
    """One tick of a schedule: a sync job per account (listed now, so a new account is included), unless the same
    job already waits."""
    lister: AccountLister = context.additional_context[ACCOUNT_LISTER]
    accounts = await asyncio.to_thread(lister, account_ids, environment)
    jobs = [SyncJob(account_id, env, reports=tuple(reports or ())) for account_id, env in accounts]
    report = await defer_syncs(context.app, jobs)
    logger.info(
        "schedule tick %s: %d accounts queued, %d already waiting",
        timestamp,
        len(report.queued),
        len(report.already_waiting),
    )
    return {"queued": len(report.queued), "already_waiting": len(report.already_waiting)}
