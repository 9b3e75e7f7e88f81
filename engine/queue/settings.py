"""What a worker, an enqueue and a schedule are configured with, checked before any queue code is imported.

Why a module of its own: the CLI validates ``--queue-url``, ``--schedule`` and the timeouts (a clear error, exit 2)
without importing Procrastinate, and the tests can build settings without a database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigurationError
from ..redaction import redact_url
from ..store import database_url

QUEUE_URL_ENV = "UNIMETER_QUEUE_URL"
SYNC_QUEUE = "unimeter-sync"
"""The queue that sync jobs (and the stalled-job check) go to; every worker takes jobs from it."""
SCHEDULE_QUEUE = "unimeter-schedule"
"""The queue of a schedule's own ticks, which only ``unimeter sync --schedule`` processes take."""
DEFAULT_STALLED_AFTER_SECONDS = 30.0
"""Procrastinate's default: a worker whose heartbeat is older than this is dead, and its jobs are run again."""
MIN_STALLED_AFTER_SECONDS = 1.0


def _postgres(url: str) -> bool:
    return url.partition(":")[0] in {"postgresql", "postgres"}


def queue_url(explicit: str | None = None, *, store_url: str | None = None) -> str:
    """``explicit``, else ``UNIMETER_QUEUE_URL``, else the accounts store's database when that is PostgreSQL.

    The queue needs PostgreSQL (Procrastinate's LISTEN/NOTIFY and row locks); the embedded SQLite store has no queue,
    and the error says what to do instead.
    """
    url = explicit or os.environ.get(QUEUE_URL_ENV) or ""
    if not url:
        store = database_url(store_url)
        if not _postgres(store):
            raise ConfigurationError(
                "no queue: the accounts store is not PostgreSQL; give --queue-url postgresql://... "
                f"(or set {QUEUE_URL_ENV}), or run `unimeter sync` without a queue",
                field="queue_url",
            )
        url = store
    if not _postgres(url):
        raise ConfigurationError(
            f"unsupported queue URL {redact_url(url)!r}: the queue is a PostgreSQL database (postgresql://...)",
            field="queue_url",
        )
    return url


@dataclass(frozen=True)
class WorkerSettings:
    """One ``unimeter worker`` process: where its jobs, accounts and rows are, and how it runs them."""

    queue_url: str
    store_url: str | None = None
    """The accounts store (None: ``UNIMETER_DATABASE_URL``, as every other command); every worker must share it."""
    key_file: Path | None = None
    destination: str | None = None
    """Where synced rows go (None: the sync command's default); every worker of one queue should share it."""
    concurrency: int = 1
    stalled_after: float = DEFAULT_STALLED_AFTER_SECONDS
    """Seconds without a heartbeat after which a worker counts as dead and its running jobs are queued again."""
    name: str | None = None

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigurationError("--concurrency must be at least 1", field="concurrency")
        if not self.stalled_after >= MIN_STALLED_AFTER_SECONDS:  # also refuses NaN
            raise ConfigurationError(
                f"--stalled-after must be at least {MIN_STALLED_AFTER_SECONDS:g} seconds", field="stalled_after"
            )

    @property
    def heartbeat_every(self) -> float:
        """A third of the stalled timeout: a worker misses two heartbeats before anyone gives up on it."""
        return self.stalled_after / 3

    @property
    def stalled_check_cron(self) -> str:
        """How often some worker looks for stalled jobs: every ``stalled_after`` seconds, as a (seconds) cron."""
        return every(self.stalled_after)


def every(seconds: float) -> str:
    """A cron that fires about every ``seconds`` (Procrastinate's crons take a sixth field for seconds).

    Under a minute: a second step within each minute (``*/7`` fires at 0, 7, ..., 56, then 0 again); under an hour:
    a minute step; else hourly. The stalled-job check needs only "often enough", not an exact period.
    """
    whole = max(1, round(seconds))
    if whole < 60:
        return f"* * * * * */{whole}"
    if whole < 3600:
        return f"*/{whole // 60} * * * *"
    return "0 * * * *"


def check_cron(cron: str) -> str:
    """``cron`` when croniter (Procrastinate's cron parser) reads it; else a ConfigurationError saying so."""
    from croniter import croniter  # type: ignore[import-untyped]  # Procrastinate's cron parser (no stubs)

    if not cron.strip() or not croniter.is_valid(cron):
        raise ConfigurationError(
            f"--schedule {cron!r} is not a cron expression: five fields (minute hour day month weekday), "
            "e.g. '0 * * * *' for hourly, or a sixth for seconds",
            field="schedule",
        )
    return cron
