"""What a worker does with one sync job: the sync command's own run (:func:`unimeter.sync.runner.sync`) of one
account, into the worker's destination, with the rate budget kept in the accounts store.

A sync reports a failing stream instead of raising (the account's other reports go on); a job must fail for the
queue to retry it, so a run with a failed stream raises :class:`SyncJobError`, retryable when some failure may pass
by itself (a vendor's 5xx, 429 or timeout). A retry resumes each failed stream from the point its last loaded row
left in the state, and merges on id, so what the first attempt loaded is neither lost nor doubled.
"""

from __future__ import annotations

from typing import Any

from ..errors import UnimeterError
from ..spec.functions import parse_instant
from ..store import Store
from ..sync.runner import DEFAULT_BATCH_ROWS, StreamResult, SyncOptions, sync
from ..sync.warehouse import Destination
from .app import SyncJob
from .retry import RETRYABLE_CODES


class SyncJobError(UnimeterError):
    """A sync job whose run left a stream failed; ``retryable`` when one of those failures may pass by itself."""

    code = "sync_failed"

    def __init__(self, job: SyncJob, failed: list[StreamResult]) -> None:
        self.retryable = any(stream.code in RETRYABLE_CODES for stream in failed)
        details = "; ".join(f"{stream.report or 'account'} ({stream.code}): {stream.error}" for stream in failed)
        super().__init__(f"sync of account {job.account_id} failed: {details}", account_id=job.account_id)


class SyncJobRunner:
    """The :data:`~.app.SyncRunner` of a worker: one store and one destination for all its jobs and threads.

    The store opens a connection per transaction and each run opens its own destination pipeline, so jobs running
    at once in the worker's threads share nothing else.
    """

    def __init__(self, store: Store, destination: Destination, *, batch_rows: int | None = None) -> None:
        self.store = store
        self.destination = destination
        self.batch_rows = batch_rows

    def __call__(self, job: SyncJob) -> dict[str, Any]:
        options = SyncOptions(
            accounts=(job.account_id,),
            environment=job.environment,
            since=parse_instant(job.since) if job.since else None,
            full_refresh=job.full_refresh,
            reports=job.reports,
            batch_rows=self.batch_rows or DEFAULT_BATCH_ROWS,
        )
        report = sync(self.store, self.destination, options, progress=None)
        failed = [stream for stream in report.streams if stream.status == "failed"]
        if failed:
            raise SyncJobError(job, failed)
        return {"rows": report.rows, "streams": {stream.report: stream.rows for stream in report.streams}}
