"""The command-line side of the queue: ``unimeter worker``, ``unimeter sync --enqueue`` and ``--schedule CRON``.

Each checks its options and reaches its databases before any job moves, and reports a problem as one line naming
it (exit 2 for a wrong command line, 1 for a database or account that is not there); no password is ever shown.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigurationError, UnimeterError
from ..redaction import redact_url
from ..spec.functions import parse_instant
from ..store import Store, open_store
from ..store.model import Account
from .app import SyncJob
from .settings import DEFAULT_STALLED_AFTER_SECONDS, WorkerSettings, check_cron, queue_url

MAINTENANCE_TASKS = ("unimeter.retry_stalled_jobs", "unimeter.remove_old_jobs")


class _QuietMaintenance(logging.Filter):
    """Drop the routine INFO lines of the maintenance ticks (every ``--stalled-after`` seconds), keep the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        job = getattr(record, "job", None)
        task = job.get("task_name") if isinstance(job, dict) else getattr(record, "task", None)
        return task not in MAINTENANCE_TASKS


def configure_logging() -> None:
    """Job starts and ends (Procrastinate's lines, with the account ids the jobs carry) on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_QuietMaintenance())
    for name in ("procrastinate", "unimeter.queue"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
    logging.getLogger("procrastinate.periodic").setLevel(logging.WARNING)  # "deferred for timestamp ..." each tick


def _fail(command: str, error: UnimeterError | ValueError) -> int:
    print(f"unimeter {command}: {error}", file=sys.stderr)
    return 2 if isinstance(error, ValueError | ConfigurationError) else 1


@dataclass(frozen=True)
class WorkerArgs:
    queue_url: str | None
    database: str | None
    destination: str | None
    concurrency: int
    stalled_after: float = DEFAULT_STALLED_AFTER_SECONDS
    batch_rows: int | None = None
    key_file: Path | None = None


def worker_command(args: WorkerArgs) -> int:
    """``unimeter worker``: take sync jobs until stopped (SIGINT or SIGTERM: the running jobs finish first)."""
    from ..sync.warehouse import parse_destination
    from .jobs import SyncJobRunner
    from .run import check_reachable, run_worker

    try:
        if args.batch_rows is not None and args.batch_rows < 1:
            raise ConfigurationError("--batch-rows must be at least 1", field="batch_rows")
        destination = parse_destination(args.destination)
        if destination.kind == "duckdb":
            raise ConfigurationError(
                f"workers need a destination they can all write: a DuckDB file ({destination.target}) takes one "
                "process at a time. Give --to postgresql://...; on one machine, `unimeter sync` runs without a queue",
                field="to",
            )
        settings = WorkerSettings(
            queue_url=queue_url(args.queue_url, store_url=args.database),
            store_url=args.database,
            key_file=args.key_file,
            destination=args.destination,
            concurrency=args.concurrency,
            stalled_after=args.stalled_after,
        )
        store = open_store(args.database, key_file=args.key_file)
        check_reachable(settings.queue_url)
    except (UnimeterError, ValueError) as error:
        return _fail("worker", error)
    configure_logging()
    print(
        f"unimeter worker: sync jobs from {redact_url(settings.queue_url)} into {destination.shown}, "
        f"{settings.concurrency} at a time",
        file=sys.stderr,
        flush=True,
    )
    try:
        run_worker(settings, SyncJobRunner(store, destination, batch_rows=args.batch_rows))
    except UnimeterError as error:
        return _fail("worker", error)
    except KeyboardInterrupt:
        return 130
    return 0


@dataclass(frozen=True)
class EnqueueArgs:
    """``unimeter sync --enqueue`` / ``--schedule CRON``: the sync command's own selection, for the workers."""

    queue_url: str | None
    database: str | None
    accounts: Sequence[str]
    environment: str | None
    since: str | None = None
    full_refresh: bool = False
    reports: Sequence[str] = ()
    schedule: str | None = None
    destination: str | None = None
    """Refused when given: the workers' ``--to`` decides where rows go."""
    as_json: bool = False
    key_file: Path | None = None


def _jobs(store: Store, args: EnqueueArgs, accounts: Sequence[str], environment: str | None) -> list[SyncJob]:
    """The accounts' sync jobs (every account of ``environment``, or all, when none is named); an id that names no
    account is an error now rather than a failed job later."""
    listed = [account for account in store.list_accounts(environment) if isinstance(account, Account)]
    by_id = {str(account.id): account for account in listed}
    unknown = [key for key in accounts if key not in by_id]
    if unknown:
        where = f" in environment {environment!r}" if environment else ""
        raise ConfigurationError(f"no account {unknown[0]!r}{where}", field="account")
    chosen = [by_id[key] for key in accounts] if accounts else listed
    return [
        SyncJob(str(account.id), account.environment, args.since, args.full_refresh, tuple(args.reports))
        for account in chosen
    ]


def _check(args: EnqueueArgs) -> None:
    if args.destination is not None:
        raise ConfigurationError(
            "--to is the workers' (unimeter worker --to URL): queued jobs name accounts only", field="to"
        )
    if args.since is not None:
        parse_instant(args.since)  # a ValueError naming the problem, now rather than in every worker
    if args.schedule is not None and (args.since or args.full_refresh):
        raise ConfigurationError(
            "--schedule syncs each account from where it stopped; --since and --full-refresh would read the "
            "whole range again at every tick (use them with --enqueue, once)",
            field="schedule",
        )


def enqueue_command(args: EnqueueArgs) -> int:
    """``unimeter sync --enqueue``: a sync job per account on the queue, for the workers; prints what it queued.
    With ``--schedule CRON``: the same at every tick of the cron, until stopped."""
    from .run import enqueue, run_schedule

    try:
        _check(args)
        url = queue_url(args.queue_url, store_url=args.database)
        cron = check_cron(args.schedule) if args.schedule is not None else None
        store = open_store(args.database, key_file=args.key_file)
        jobs = _jobs(store, args, args.accounts, args.environment)
    except (UnimeterError, ValueError) as error:
        return _fail("sync", error)
    try:
        if cron is None:
            report = enqueue(url, jobs)
        else:
            configure_logging()
            chosen = f"{len(jobs)} account(s)" if args.accounts else "every account"
            print(f"unimeter sync: queueing {chosen} on {redact_url(url)} at '{cron}' until stopped", file=sys.stderr)

            def lister(account_ids: Sequence[str], environment: str | None) -> list[tuple[str, str]]:
                # Listed again at every tick, so an account added since the schedule started is synced too.
                return [(job.account_id, job.environment) for job in _jobs(store, args, account_ids, environment)]

            run_schedule(url, cron, list(args.accounts), args.environment, list(args.reports), lister)
            return 0
    except UnimeterError as error:
        return _fail("sync", error)
    except KeyboardInterrupt:
        return 130
    if args.as_json:
        shown = {
            "queue": redact_url(url),
            "queued": [job.kwargs() for job in report.queued],
            "already_waiting": [job.kwargs() for job in report.already_waiting],
        }
        print(json.dumps(shown, indent=2))
        return 0
    for job in report.queued:
        print(f"queued          {job.account_id} ({job.environment})")
    for job in report.already_waiting:
        print(f"already waiting {job.account_id} ({job.environment})")
    print(f"{len(report.queued)} queued, {len(report.already_waiting)} already waiting on {redact_url(url)}")
    return 0
