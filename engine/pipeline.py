"""The whole pipeline of one unified call: plan -> request -> paginate -> transform -> validate.

``iter_pages`` yields each vendor page with its rows as they are produced (the service's ``stream`` and ``debug``
formats build on it); ``alist_usage`` and ``list_usage`` collect everything into ``{"result", "next_cursor"}``.
A call either completes or raises a typed error: there is no partial result.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import httpx

from .accounts import resolve_context, resolve_credentials
from .auth import auth_headers
from .errors import MappingError, QueryCheckError, UnimeterError
from .jsonata import pinned_now
from .pagination import PageState, make_paginator
from .params import resolve_params
from .partitions import PartitionWindow, plan_windows
from .ratelimit import RateLimiter
from .requests import build_request, resolve_base_url
from .sender import Exchange, Sleep, send
from .spec import IntegrationSpec, OperationSpec, load_integration
from .transform import select_records, transform_records

DEFAULT_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class ResumePoint:
    """Where a query continues: the window, the page state within it, and how far into that page.

    This is what an opaque ``next_cursor`` carries, so a response can stop in the middle of a vendor page and the
    next one continues exactly after its last row. ``skip_records`` vendor records of the page were fully returned
    (they are not transformed again) and ``skip_rows`` rows of the next record were.
    """

    window: int = 0
    page: Any = None
    next_url: str | None = None
    skip_rows: int = 0
    started: bool = False
    skip_records: int = 0

    def as_state(self) -> PageState:
        return PageState(page=self.page, next_url=self.next_url)


@dataclass
class VendorPage:
    """One vendor response and the unified rows made from it (already past any rows a resume point skips)."""

    operation: str
    window: PartitionWindow
    exchange: Exchange
    rows: list[dict[str, Any]]
    state: PageState
    next_state: PageState | None
    is_last_window: bool
    is_looping: bool = False
    records: list[Any] = field(default_factory=list)
    row_records: list[int] = field(default_factory=list)
    """For each row, the index of the vendor record (in ``records``) it was made from."""
    skipped_records: int = 0
    skipped_rows: int = 0

    def resume_at(self, rows_taken: int) -> ResumePoint:
        """The point just after the first ``rows_taken`` rows of this page (``rows_taken < len(rows)``)."""
        record = self.row_records[rows_taken]
        done = sum(1 for index in self.row_records[:rows_taken] if index == record)
        if record == self.skipped_records:
            done += self.skipped_rows
        return ResumePoint(self.window.index, self.state.page, self.state.next_url, done, started=True,
                           skip_records=record)


@contextlib.contextmanager
def _clock(now: datetime | None) -> Iterator[None]:
    with pinned_now(now):
        yield


def _choose_operation(spec: IntegrationSpec, bindings: dict[str, Any]) -> OperationSpec:
    for operation in spec.operations:
        if operation.when is None or operation.when.evaluate(None, {**bindings, "operation": operation.name}) is True:
            return operation
    raise QueryCheckError(f"{spec.name}: no operation serves this query (window {bindings['window']})")


async def _default_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def iter_pages(integration: str | IntegrationSpec, *, credentials: Mapping[str, Any] | None = None,
                     context: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None,
                     remote_query: Mapping[str, Any] | None = None, now: datetime | None = None,
                     transport: httpx.AsyncBaseTransport | None = None, sleep: Sleep | None = None,
                     keep_remote_data: bool = True, start: ResumePoint | None = None,
                     timeout: float = DEFAULT_TIMEOUT_SECONDS, row_budget: int | None = None,
                     max_concurrency: int | None = None) -> AsyncIterator[VendorPage]:
    """Every vendor page of one unified query, in order, with its validated rows, from ``start`` when given.

    ``row_budget`` is a promise that the caller reads at most that many rows: a window stops transforming once it
    has made them (its pages are still fetched only as the caller reads on). ``max_concurrency`` caps the mapping's
    concurrent windows (1 keeps memory to one vendor page, as ``stream`` wants).

    Any error raised on the way has the account's secret values removed from its message.
    """
    spec = integration if isinstance(integration, IntegrationSpec) else load_integration(integration)
    secrets = _secret_strings(spec, credentials or {}, context or {})
    try:
        async for page in _iter_pages(spec, credentials=credentials, context=context, params=params,
                                      remote_query=remote_query, now=now, transport=transport, sleep=sleep,
                                      keep_remote_data=keep_remote_data, start=start, timeout=timeout,
                                      row_budget=row_budget, max_concurrency=max_concurrency):
            yield page
    except UnimeterError as error:
        error.redact(secrets)
        raise


@dataclass
class _Query:
    """Everything resolved once per query, shared by its windows."""

    spec: IntegrationSpec
    credentials: dict[str, Any]
    base_bindings: dict[str, Any]
    base_url: str
    windows: list[PartitionWindow]
    client: httpx.AsyncClient
    now: datetime | None
    sleep: Sleep
    remote_query: Mapping[str, Any] | None
    keep_remote_data: bool
    limiter: RateLimiter | None
    row_budget: int | None = None

    async def window_pages(self, window: PartitionWindow, start: ResumePoint) -> AsyncIterator[VendorPage]:
        """The pages of one window, in order (rows not yet checked for uniqueness across windows)."""
        spec = self.spec
        bindings = {**self.base_bindings, "window": window.as_binding()}
        with _clock(self.now):
            operation = _choose_operation(spec, bindings)
        bindings["operation"] = operation.name
        paginator = make_paginator(operation.pagination)
        resuming = start.started and window.index == start.window
        state: PageState | None = start.as_state() if resuming else paginator.first()
        skip_records = start.skip_records if resuming else 0
        skip_rows = start.skip_rows if resuming else 0
        record_index = 0
        rows_made = 0
        while state is not None:
            page_bindings = {**bindings, "page": state.page}
            with _clock(self.now):
                request = build_request(spec, operation, base_url=self.base_url, bindings=page_bindings,
                                        credentials=self.credentials, remote_query=self.remote_query,
                                        next_url=state.next_url)
            if self.limiter is not None:
                await self.limiter.acquire(self.sleep)
            exchange = await send(self.client, request, spec, sleep=self.sleep)
            with _clock(self.now):
                records = select_records(operation, exchange.body, page_bindings)
                if operation.envelope is not None:
                    page_bindings["envelope"] = operation.envelope.evaluate(exchange.body, page_bindings)
                following = paginator.advance(exchange.body, exchange.headers, len(records),
                                              {**page_bindings, "headers": exchange.headers})
                if following is not None and following.next_url is not None:
                    # A relative next URL (RFC 8288) is relative to the URL just requested, not the base URL.
                    following = PageState(following.page, urljoin(str(exchange.request.url), following.next_url))
                made_all = transform_records(spec, operation, records[skip_records:], page_bindings,
                                             first_index=record_index + skip_records,
                                             keep_remote_data=self.keep_remote_data)
                # A caller that needs only ``row_budget`` more rows (a limited response) does not pay for the rest.
                wanted = None if self.row_budget is None else skip_rows + max(0, self.row_budget - rows_made)
                chunks = _RecordChunks(itertools.islice(made_all, skip_rows, wanted), CHUNK_ROWS)
            first = True
            while True:
                # Rows go out in chunks of whole records, so a large vendor page never has all its rows alive.
                with _clock(self.now):
                    chunk = chunks.next_chunk()
                if not chunk and not first:
                    break
                rows_made += len(chunk)
                yield VendorPage(operation.name, window, exchange, [row for _, row in chunk], state, following,
                                 window.index == len(self.windows) - 1, paginator.is_looping, records,
                                 [index - record_index for index, _ in chunk],
                                 skip_records if first else -1, skip_rows if first else 0)
                first = False
            record_index += len(records)
            skip_records = skip_rows = 0
            state = following


CHUNK_ROWS = 2000
"""Rows per VendorPage; a vendor page with more rows is delivered in several chunks of whole records."""


class _RecordChunks:
    """Cuts ``(record index, row)`` pairs into chunks of about ``size`` rows without splitting a record's rows."""

    def __init__(self, made: Iterator[tuple[int, dict[str, Any]]], size: int) -> None:
        self.made = made
        self.size = size
        self.pending: tuple[int, dict[str, Any]] | None = None

    def next_chunk(self) -> list[tuple[int, dict[str, Any]]]:
        chunk: list[tuple[int, dict[str, Any]]] = []
        if self.pending is not None:
            chunk.append(self.pending)
            self.pending = None
        for item in self.made:
            if len(chunk) >= self.size and item[0] != chunk[-1][0]:
                self.pending = item
                break
            chunk.append(item)
        return chunk


def _secret_strings(spec: IntegrationSpec, credentials: Mapping[str, Any], context: Mapping[str, Any]) -> list[str]:
    """The secret values, and the forms the auth headers send them in (a vendor may echo ``Basic base64(k:s)``)."""
    secrets = [str(v) for k, v in credentials.items() if k in spec.secret_fields and v]
    try:
        headers = auth_headers(spec.auth, credentials, {"params": {}, "context": dict(context)})
    except UnimeterError:
        return secrets
    for value in headers.values():
        token = value.split(" ", 1)[-1]
        secrets.extend([value, token, token.rstrip("=")])  # base64 is often echoed without its padding
    return secrets


async def _iter_pages(spec: IntegrationSpec, *, credentials: Mapping[str, Any] | None,
                      context: Mapping[str, Any] | None, params: Mapping[str, Any] | None,
                      remote_query: Mapping[str, Any] | None, now: datetime | None,
                      transport: httpx.AsyncBaseTransport | None, sleep: Sleep | None,
                      keep_remote_data: bool, start: ResumePoint | None,
                      timeout: float, row_budget: int | None,
                      max_concurrency: int | None) -> AsyncIterator[VendorPage]:
    creds = resolve_credentials(spec, credentials or {})
    ctx = resolve_context(spec, context or {})
    with _clock(now):
        resolved = resolve_params(spec, params or {}, ctx)
        base_bindings: dict[str, Any] = {"params": resolved, "context": ctx}
        base_url = resolve_base_url(spec, ctx, base_bindings)
        windows = plan_windows(spec.partition, base_bindings)
    start = start or ResumePoint()
    if start.window >= len(windows):
        raise QueryCheckError("next_cursor points past the end of this query")
    limiter = RateLimiter(spec.rate_limit.requests, spec.rate_limit.per_seconds) if spec.rate_limit else None
    seen_ids: set[str] = set()
    async with httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False) as client:
        query = _Query(spec, creds, base_bindings, base_url, windows, client, now, sleep or _default_sleep,
                       remote_query, keep_remote_data, limiter, row_budget)
        generators = [query.window_pages(window, start) for window in windows[start.window:]]
        concurrency = spec.partition.concurrency if max_concurrency is None else min(max_concurrency,
                                                                                     spec.partition.concurrency)
        pages = (_sequential(generators) if concurrency <= 1 or len(generators) == 1
                 else _concurrent(generators, concurrency))
        window_index = -1
        async with contextlib.aclosing(pages):
            async for page in pages:
                if page.window.index != window_index:
                    # Ids are checked within a window: memory stays bounded by a window however long the query,
                    # and rows of different windows differ by construction (ids carry their period).
                    seen_ids.clear()
                    window_index = page.window.index
                _check_unique_ids(spec, page.rows, seen_ids)
                yield page


async def _sequential(generators: list[AsyncIterator[VendorPage]]) -> AsyncGenerator[VendorPage, None]:
    for generator in generators:
        async for page in generator:
            yield page


_DONE = object()


async def _concurrent(generators: list[AsyncIterator[VendorPage]],
                      limit: int) -> AsyncGenerator[VendorPage, None]:
    """Run up to ``limit`` windows at once and yield their pages in window order.

    Each window feeds a small queue, so memory stays bounded by a few pages per running window; a failure in any
    window surfaces when its turn comes, and leaving early cancels every window still running.
    """
    slots = asyncio.Semaphore(limit)
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue(maxsize=2) for _ in generators]

    async def produce(generator: AsyncIterator[VendorPage], queue: asyncio.Queue[Any]) -> None:
        async with slots:
            try:
                async for page in generator:
                    await queue.put(page)
            except Exception as error:  # handed to the consumer, which raises it in window order
                await queue.put(error)
                return
            await queue.put(_DONE)

    tasks = [asyncio.create_task(produce(generator, queue)) for generator, queue in zip(generators, queues,
                                                                                          strict=True)]
    try:
        for queue in queues:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _check_unique_ids(spec: IntegrationSpec, rows: list[dict[str, Any]], seen: set[str]) -> None:
    for row in rows:
        row_id = row["id"]
        if row_id in seen:
            raise MappingError(f"{spec.name} ({spec.file}) produced two rows with the id {row_id!r}; "
                               "row ids must be unique within a result", row_id=row_id)
        seen.add(row_id)


async def alist_usage(integration: str | IntegrationSpec, **options: Any) -> dict[str, Any]:
    """All unified rows of one query: ``{"result": [...], "next_cursor": None}``."""
    result: list[dict[str, Any]] = []
    async for page in iter_pages(integration, **options):
        result.extend(page.rows)
    return {"result": result, "next_cursor": None}


def list_usage(integration: str | IntegrationSpec, **options: Any) -> dict[str, Any]:
    """Synchronous :func:`alist_usage` for scripts (not callable from inside a running event loop)."""
    return asyncio.run(alist_usage(integration, **options))
