"""One sync run: every selected account's reports, fetched from their re-fetch point and upserted in batches.

Per report ("stream") of an account: the range comes from :mod:`.streams`, the pages from the same pipeline every
query uses (``iter_pages``: validated rows, retries, the account's rate budget kept in the accounts store), the rows
go into a batch that is loaded when it holds ``batch_rows`` rows, and the stream's state row follows its rows into
the destination. A run that stops part-way (a vendor that keeps failing, an interrupted process) leaves its rows
loaded and, in the state, the query, its clock and the point after the last loaded row: the next run goes on from
there. Rows are merged on id, so reading a page twice never doubles it.

One failing stream does not stop the others: its error is recorded in its state row and in the report (secrets
removed), and the run's result says something failed. A report that the account's credentials are refused for while
another report of the same account is read with them (an admin-only report, say) is ``skipped``, not a failure;
when every report is refused, the credentials are bad and the account is marked ``needs_reauth``, as the service does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import httpx

from ..errors import QueryCheckError, UnimeterError, VendorAuthError, VendorClientError
from ..redaction import account_secrets, redact_text
from ..run.pipeline import QueryOptions, ResumePoint, iter_pages
from ..run.ratelimit import RateBudget, Sleep, StoreRateLimiter
from ..spec.functions import format_instant, parse_instant
from ..spec.model import IntegrationSpec
from ..spec.registry import load_integration
from ..store import Account, Store
from ..store.model import UnreadableAccount
from .columns import period_of, to_record
from .streams import Coverage, Report, parse_report, range_params, refetch_point, reports_of, row_final_at
from .warehouse import Destination, Warehouse, state_row

DEFAULT_BATCH_ROWS = 5_000
"""Rows per load: large enough that a load's fixed cost (a staging table, a merge) is small, small enough that an
interrupted run loses little and memory stays bounded."""


MAX_DAYS_BACK = 2
"""How many days before today a range may end when the vendor refuses the newest days (published the next day)."""


@dataclass(frozen=True)
class SyncOptions:
    """What to sync and how. ``accounts`` empty: every account (of ``environment`` when given)."""

    accounts: tuple[str, ...] = ()
    environment: str | None = None
    reports: tuple[str, ...] = ()
    """Only these reports (``report_type=user_cost`` or ``user_cost``); empty: every report of each integration."""
    since: datetime | None = None
    """Fetch from this instant's day instead of each report's re-fetch point."""
    full_refresh: bool = False
    """Forget each stream's state and its rows, then fetch again from ``since`` or the integration's default start."""
    now: datetime | None = None
    """The clock (tests pin it); None: the real UTC clock."""
    batch_rows: int = DEFAULT_BATCH_ROWS
    transport: httpx.AsyncBaseTransport | None = None
    sleep: Sleep | None = None


@dataclass
class StreamResult:
    """How one report of one account went."""

    account_id: str
    integration: str
    environment: str
    report: str
    status: str = "ok"
    """ok, failed or skipped."""
    rows: int = 0
    pages: int = 0
    error: str | None = None
    code: str | None = None
    resumed: bool = False
    start_date: str | None = None
    """The first day asked for (None: the integration's default range)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class SyncReport:
    """Every stream's result, in the order they ran."""

    destination: str
    streams: list[StreamResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(stream.status == "failed" for stream in self.streams)

    @property
    def rows(self) -> int:
        return sum(stream.rows for stream in self.streams)

    def to_dict(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "rows": self.rows,
            "failed": self.failed,
            "streams": [stream.to_dict() for stream in self.streams],
        }


class _Progress:
    """One line per stream on a terminal, rewritten as pages arrive; nothing when not a terminal."""

    def __init__(self, out: TextIO | None) -> None:
        self.out = out if out is not None and _is_terminal(out) else None

    def update(self, label: str, pages: int, rows: int) -> None:
        if self.out is not None:
            print(f"\r{label}: {pages} page(s), {rows:,} rows", end="", file=self.out, flush=True)

    def done(self, label: str, result: StreamResult) -> None:
        if self.out is not None:
            outcome = result.status if result.error is None else f"{result.status}: {result.error}"
            print(f"\r{label}: {result.pages} page(s), {result.rows:,} rows, {outcome}", file=self.out, flush=True)


def _is_terminal(out: TextIO) -> bool:
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


@dataclass
class _Batch:
    records: list[dict[str, Any]] = field(default_factory=list)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)


def _stream_key(account_id: str, report: Report) -> str:
    return f"{account_id}/{report.key}"


def _message(error: BaseException, secrets: Sequence[str]) -> tuple[str, str]:
    """``(code, message)`` of an error, with every secret form of the account removed."""
    if isinstance(error, UnimeterError):
        error.redact(secrets)
        return error.code, error.message
    return "internal_error", redact_text(f"{type(error).__name__}: {error}", tuple(secrets))


@dataclass
class _Stream:
    """One report of one account during a run."""

    account: Account
    spec: IntegrationSpec
    report: Report
    old: dict[str, Any] | None
    result: StreamResult
    secrets: tuple[str, ...]
    checkpoint: dict[str, Any] | None = None
    """The resume state after the last row read (saved with a failure, so the next run goes on from there)."""

    @property
    def key(self) -> str:
        return _stream_key(str(self.account.id), self.report)


class SyncRun:
    """A sync of the selected accounts into one destination; :meth:`run` does it and returns the report."""

    def __init__(
        self, store: Store, destination: Destination, options: SyncOptions, progress: TextIO | None = sys.stderr
    ) -> None:
        self.store = store
        self.destination = destination
        self.options = options
        self.progress = _Progress(progress)
        self.now = options.now or datetime.now(UTC)
        self.batch = _Batch()
        self.report = SyncReport(destination.shown)
        self.warehouse: Warehouse | None = None
        self._matched: set[str] = set()

    def run(self) -> SyncReport:
        with Warehouse(self.destination) as warehouse:
            self.warehouse = warehouse
            states = warehouse.read_states()
            accounts = self._accounts()
            asyncio.run(self._run(accounts, states))
            self._flush()
        return self.report

    # ---------------------------------------------------------------------------------------------- accounts

    def _accounts(self) -> list[Account]:
        """The accounts to sync; an id that names none, or an account that cannot be read, is a failed result."""
        listed = self.store.list_accounts(self.options.environment)
        wanted = self.options.accounts
        by_id = {str(account.id): account for account in listed}
        chosen: list[Account] = []
        for key in wanted or list(by_id):
            account = by_id.get(key)
            if account is None:
                where = f" in environment {self.options.environment!r}" if self.options.environment else ""
                self.report.streams.append(
                    StreamResult(
                        key, "", self.options.environment or "", "", "failed", error=f"no account {key!r}{where}"
                    )
                )
                self.report.streams[-1].code = "account_not_found"
            elif isinstance(account, UnreadableAccount):
                self.report.streams.append(
                    StreamResult(
                        account.id,
                        account.integration,
                        account.environment,
                        "",
                        "failed",
                        error=account.error,
                        code="unreadable_account",
                    )
                )
            else:
                chosen.append(account)
        return chosen

    async def _run(self, accounts: list[Account], states: dict[str, dict[str, Any]]) -> None:
        for number, account in enumerate(accounts, start=1):
            await self._sync_account(account, states, f"[{number}/{len(accounts)}]")
        for text in self.options.reports:
            if text not in self._matched:
                # A typo must not look like a sync with nothing to do.
                names = sorted({account.integration for account in accounts})
                self.report.streams.append(
                    StreamResult(
                        "",
                        "",
                        self.options.environment or "",
                        text,
                        "failed",
                        error=f"no report {text!r} in the integrations synced ({', '.join(names) or 'none'})",
                        code="unknown_report",
                    )
                )

    def _reports(self, spec: IntegrationSpec) -> list[Report]:
        if not self.options.reports:
            return reports_of(spec)
        chosen = []
        for text in self.options.reports:
            try:
                chosen.append(parse_report(spec, text))
            except ValueError:
                continue  # a report of another integration in the same run
            self._matched.add(text)
        return chosen

    async def _sync_account(self, account: Account, states: dict[str, dict[str, Any]], position: str) -> None:
        try:
            spec = load_integration(account.integration)
        except UnimeterError as error:
            self.report.streams.append(
                StreamResult(
                    str(account.id),
                    account.integration,
                    account.environment,
                    "",
                    "failed",
                    error=error.message,
                    code=error.code,
                )
            )
            return
        secrets = account_secrets(spec, account.credentials, account.context)
        streams = []
        for report in self._reports(spec):
            result = StreamResult(str(account.id), account.integration, account.environment, report.key)
            stream = _Stream(account, spec, report, states.get(_stream_key(str(account.id), report)), result, secrets)
            label = f"{position} {account.integration} {report.key} ({str(account.id)[:8]})"
            await self._sync_stream(stream, label)
            streams.append(stream)
            self.report.streams.append(result)
            self.progress.done(label, result)
        self._settle_refusals(account, streams)

    def _settle_refusals(self, account: Account, streams: list[_Stream]) -> None:
        """A report refused while another worked with the same credentials is skipped; all refused: needs_reauth."""
        refused = [stream for stream in streams if stream.result.code == VendorAuthError.code]
        if not refused:
            return
        if any(stream.result.status == "ok" for stream in streams) and not self.options.reports:
            for stream in refused:
                stream.result.status = "skipped"
                stream.result.error = f"not readable with this account's credentials ({stream.result.error})"
                pending = self.batch.states.get(stream.key)
                if pending is not None:
                    self.batch.states[stream.key] = {**pending, "status": "skipped", "last_error": stream.result.error}
        elif len(refused) == len(streams):
            # The same as the service on a refused key: the account needs new credentials.
            self.store.mark_status(account.id, environment=account.environment, status="needs_reauth")

    # ---------------------------------------------------------------------------------------------- a stream

    def _limiter(self, stream: _Stream) -> RateBudget | None:
        limit = stream.spec.rate_limit
        if limit is None or self.options.sleep is not None or not hasattr(self.store, "reserve_rate_slot"):
            return None
        return StoreRateLimiter(self.store, f"account:{stream.account.id}", limit.requests, limit.per_seconds)

    def _query(self, stream: _Stream, params: dict[str, Any], now: datetime, start: ResumePoint | None) -> Any:
        options = QueryOptions(
            credentials=stream.account.credentials,
            context=stream.account.context,
            params=params,
            now=now,
            transport=self.options.transport,
            sleep=self.options.sleep,
            start=start,
            rate_limiter=self._limiter(stream),
            secrets=stream.secrets,
        )
        return iter_pages(stream.spec, options)

    def _start(self, stream: _Stream) -> datetime | None:
        """Where a fresh run of the stream starts: --since, else the state's re-fetch point, else the default."""
        if self.options.since is not None:
            return self.options.since
        if self.options.full_refresh or stream.old is None:
            return None
        refetch = stream.old.get("refetch_from")
        return _instant(refetch) if refetch is not None else None

    def _resume_of(self, stream: _Stream) -> dict[str, Any] | None:
        if self.options.full_refresh or self.options.since is not None or stream.old is None:
            return None
        resume = stream.old.get("resume")
        return resume if isinstance(resume, dict) and "params" in resume else None

    async def _sync_stream(self, stream: _Stream, label: str) -> None:
        if self.options.full_refresh:
            assert self.warehouse is not None
            self._flush()
            self.warehouse.delete_rows(str(stream.account.id), stream.report.key)
        resume = self._resume_of(stream)
        if resume is not None:
            stream.result.resumed = True
            try:
                await self._read(stream, label, resume["params"], parse_instant(resume["now"]), resume)
                return
            except Exception as error:
                if stream.result.pages:
                    self._failed(stream, error)
                    return
                # The saved point no longer works (an expired cursor, say): start the stream over.
                stream.result.resumed = False
                stream.checkpoint = None
        start = self._start(stream)
        for back_days in range(MAX_DAYS_BACK + 1):
            params = {**stream.report.as_params(), **range_params(stream.spec, start, self.now, back_days)}
            stream.result.start_date = params.get("start_date")
            try:
                await self._read(stream, label, params, self.now, None)
                return
            except (QueryCheckError, VendorClientError) as error:
                # A vendor that publishes a day only some hours after it ends refuses a range ending today (the
                # mapping's check, or the vendor's 400 on the newest day): the range ends a day earlier and is read
                # again (the rows read so far merge on id). Only while the range still has a day to lose.
                last_error: Exception = error
                if "end_date" not in params or params.get("start_date", "") >= params["end_date"]:
                    break
            except Exception as error:
                last_error = error
                break
        self._failed(stream, last_error)

    async def _read(
        self, stream: _Stream, label: str, params: dict[str, Any], now: datetime, resume: dict[str, Any] | None
    ) -> None:
        """Every page of the stream's query into the batch; the state row once it is complete."""
        coverage = _coverage_from(resume)
        point = _point(resume["point"]) if resume is not None else None
        base = {
            "integration": stream.account.integration,
            "integrated_account_id": str(stream.account.id),
            "environment": stream.account.environment,
            "report": stream.report.key,
            "synced_at": self.now,
        }
        stream.result.pages = 0
        stream.result.rows = 0
        async for page in self._query(stream, params, now, point):
            stream.result.pages += 1
            coverage.operations = {*(coverage.operations or set()), page.operation}
            coverage.add_window(page.window.start, page.window.end, parse_instant)
            for row in page.rows:
                period = period_of(row)
                final = row_final_at(stream.spec, page.operation, period)
                if final is not None and period is not None and final > self.now:
                    coverage.add_open_row(period[0])
                self.batch.records.append(to_record(row, {**base, "operation": page.operation, "final_at": final}))
            stream.result.rows += len(page.rows)
            point = page.resume_after() or point
            self.progress.update(label, stream.result.pages, stream.result.rows)
            if len(self.batch.records) >= self.options.batch_rows:
                checkpoint = _resume(params, now, point, coverage)
                self.batch.states[stream.key] = self._state(stream, "running", None, checkpoint)
                self._flush()
            stream.checkpoint = _resume(params, now, point, coverage)
        high_water_mark, refetch_from = refetch_point(stream.spec, coverage, self.now)
        old = {} if self.options.full_refresh else (stream.old or {})
        synced_from = coverage.start
        if old.get("synced_from") is not None:
            previous_start = _instant(old["synced_from"])
            synced_from = previous_start if synced_from is None else min(synced_from, previous_start)
        if old.get("refetch_from") is not None:
            # A run that started later than the saved point (a narrow --since) must not forget an earlier open period.
            previous = _instant(old["refetch_from"])
            if coverage.start is None or coverage.start > previous:
                refetch_from = min(refetch_from, previous)
        if old.get("high_water_mark") is not None:
            high_water_mark = max(high_water_mark, _instant(old["high_water_mark"]))
        if synced_from is not None:
            # Re-fetching means reading again: never before the first day this stream ever held.
            refetch_from = max(refetch_from, synced_from)
        self.batch.states[stream.key] = self._state(
            stream,
            "ok",
            None,
            None,
            synced_from=synced_from,
            high_water_mark=high_water_mark,
            refetch_from=refetch_from,
            success=True,
        )

    def _failed(self, stream: _Stream, error: BaseException) -> None:
        code, message = _message(error, stream.secrets)
        stream.result.status = "failed"
        stream.result.code = code
        stream.result.error = message
        checkpoint = stream.checkpoint
        if checkpoint is not None and checkpoint.get("point") is None:
            checkpoint = None
        self.batch.states[stream.key] = self._state(stream, "failed", message, checkpoint)

    def _state(
        self,
        stream: _Stream,
        status: str,
        error: str | None,
        resume: dict[str, Any] | None,
        *,
        synced_from: datetime | None = None,
        high_water_mark: datetime | None = None,
        refetch_from: datetime | None = None,
        success: bool = False,
    ) -> dict[str, Any]:
        old = {} if self.options.full_refresh else (stream.old or {})
        return state_row(
            stream=stream.key,
            account_id=str(stream.account.id),
            integration=stream.account.integration,
            environment=stream.account.environment,
            report=stream.report.key,
            status=status,
            synced_from=synced_from or _maybe_instant(old.get("synced_from")),
            high_water_mark=high_water_mark or _maybe_instant(old.get("high_water_mark")),
            refetch_from=refetch_from or _maybe_instant(old.get("refetch_from")),
            last_run_at=self.now,
            last_success_at=self.now if success else _maybe_instant(old.get("last_success_at")),
            last_error=error,
            last_rows=stream.result.rows,
            resume=resume,
        )

    def _flush(self) -> None:
        """Load the batch's rows, then its state rows (a state never runs ahead of its rows)."""
        if not self.batch.records and not self.batch.states:
            return
        assert self.warehouse is not None
        self.warehouse.load(self.batch.records, list(self.batch.states.values()))
        self.batch = _Batch()


def _instant(value: Any) -> datetime:
    return value.astimezone(UTC) if isinstance(value, datetime) else parse_instant(str(value))


def _maybe_instant(value: Any) -> datetime | None:
    return None if value is None else _instant(value)


def _point(data: dict[str, Any]) -> ResumePoint:
    return ResumePoint(**{**data, "seen": tuple(data.get("seen", ()))})


def _resume(params: dict[str, Any], now: datetime, point: ResumePoint | None, coverage: Coverage) -> dict[str, Any]:
    """What the state keeps for an interrupted stream: its query, its clock, the point after its last loaded row and
    what it had read so far (for the re-fetch point once it completes)."""
    return {
        "params": params,
        "now": format_instant(now),
        "point": None if point is None else dataclasses.asdict(point),
        "coverage": {
            "start": None if coverage.start is None else format_instant(coverage.start),
            "end": None if coverage.end is None else format_instant(coverage.end),
            "earliest_open": None if coverage.earliest_open is None else format_instant(coverage.earliest_open),
            "operations": sorted(coverage.operations or ()),
        },
    }


def _coverage_from(resume: dict[str, Any] | None) -> Coverage:
    if resume is None:
        return Coverage(operations=set())
    saved = resume.get("coverage") or {}
    return Coverage(
        start=_maybe_instant(saved.get("start")),
        end=_maybe_instant(saved.get("end")),
        earliest_open=_maybe_instant(saved.get("earliest_open")),
        operations=set(saved.get("operations") or ()),
    )


def sync(
    store: Store,
    destination: Destination,
    options: SyncOptions | None = None,
    *,
    progress: TextIO | None = sys.stderr,
) -> SyncReport:
    """Sync the selected accounts of ``store`` into ``destination``; the report says what each stream did.

    A destination that cannot be reached or written raises :class:`~.warehouse.SyncDestinationError`; a vendor or
    mapping failure is one stream's ``failed`` result and the others go on.
    """
    return SyncRun(store, destination, options or SyncOptions(), progress).run()
