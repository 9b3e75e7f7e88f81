"""The dashboard over HTTP: the page at ``/``, its static files, and the JSON and CSV it reads (``/dashboard/api/``).

The page and its files are public (they hold no data); every data route takes the same bearer API token as the
usage endpoint and answers only for the token's environment, whatever the query string says. The page keeps the
tokens it is given in the tab's ``sessionStorage`` and sends them as ``Authorization`` headers (no cookie, so no
cross-site request can use them). Every response carries a Content-Security-Policy that allows scripts, styles,
images and connections from this origin only: the page loads nothing from elsewhere, so it works with no network.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..dashboard import figures, health
from ..dashboard.assets import static_dir
from ..dashboard.filters import Filters, parse_filters, parse_page
from ..errors import UnimeterError
from ..synced import SyncedDatabase, SyncedReader, reading
from .auth import authenticate

MAX_PAGE_ROWS = 1000
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
"""Inline styles are allowed because the chart library sets them on the SVG it draws; inline scripts are not."""
_TEXT_COLUMNS = {"integration", "report", "product", "metric", "user", "model", "unit", "integrated_account_id", "id"}


class SyncedDataError(UnimeterError):
    """The sync destination cannot be read now (a DuckDB file being written, a PostgreSQL server down)."""

    code = "sync_destination_unavailable"
    http_status = 503


def dashboard_address(host: str, port: int) -> str:
    """The page's address on ``host:port`` (an IPv6 address in brackets), as ``serve`` and the demo print it."""
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def _query(request: Request) -> dict[str, list[str]]:
    """Every query parameter with all its values (a repeated one is an error the filters name)."""
    return {key: request.query_params.getlist(key) for key in request.query_params}


def _guarded(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


class DashboardApi:
    """The dashboard's routes over one accounts store and one sync destination."""

    def __init__(
        self, store: Any, synced: SyncedDatabase, today: Callable[[], date] = lambda: datetime.now(UTC).date()
    ) -> None:
        self.store = store
        self.synced = synced
        self.today = today

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.page, methods=["GET"]),
            Mount("/dashboard/static", app=_GuardedStatic(directory=static_dir()), name="dashboard-static"),
            Route("/dashboard/api/session", self.session, methods=["GET"]),
            Route("/dashboard/api/overview", self.overview, methods=["GET"]),
            Route("/dashboard/api/health", self.health, methods=["GET"]),
            Route("/dashboard/api/rows", self.rows, methods=["GET"]),
            Route("/dashboard/api/rows.csv", self.rows_csv, methods=["GET"]),
        ]

    async def page(self, request: Request) -> Response:
        return _guarded(FileResponse(static_dir() / "index.html", media_type="text/html; charset=utf-8"))

    # ---------------------------------------------------------------------------------------------- reading

    @contextlib.contextmanager
    def _reader(self) -> Iterator[SyncedReader]:
        """A read-only connection for one request; the file closes when the request's figures are read. A DuckDB
        file that another process holds is, in practice, a sync writing it: the error says to wait for it."""
        try:
            with reading(self.synced, SyncedDataError, "cannot read the sync destination") as reader:
                yield reader
        except SyncedDataError as error:
            if "lock" in error.message.lower():
                error.message += "; a sync is probably writing it: try again when it ends"
            raise

    def _is_synced(self) -> bool:
        return self.synced.kind != "duckdb" or Path(self.synced.target).is_file()

    def _not_synced(self, environment: str) -> dict[str, Any]:
        return {
            "synced": False,
            "message": (
                f"Nothing synced yet into {self.synced.shown}: run `unimeter sync --environment {environment}` "
                "(with the same --to as this service's --sync-to), then reload."
            ),
        }

    def _filters(self, request: Request, environment: str) -> Filters:
        return parse_filters(_query(request), environment, self.today())

    def _with_reader(self, environment: str, work: Callable[[SyncedReader], dict[str, Any]]) -> dict[str, Any]:
        """``work``'s answer with ``synced: true``, or the not-synced answer when there is nothing to read yet."""
        if not self._is_synced():
            return self._not_synced(environment)
        with self._reader() as reader:
            if "usage" not in reader.tables():
                return self._not_synced(environment)
            return {"synced": True, **work(reader)}

    # --------------------------------------------------------------------------------------------- routes

    async def session(self, request: Request) -> Response:
        """The token's environment: the page checks a token with it before keeping it."""
        environment = await authenticate(request, self.store)
        return _guarded(JSONResponse({"environment": environment}))

    async def overview(self, request: Request) -> Response:
        environment = await authenticate(request, self.store)
        filters = self._filters(request, environment)
        accounts = await run_in_threadpool(self.store.list_accounts, environment)

        def work(reader: SyncedReader) -> dict[str, Any]:
            return {"choices": figures.choices(reader, environment), "figures": figures.overview(reader, filters)}

        body = await run_in_threadpool(self._with_reader, environment, work)
        body.update(environment=environment, filters=filters.to_dict(), accounts=len(accounts))
        return _guarded(JSONResponse(body))

    async def health(self, request: Request) -> Response:
        """Each account of the environment with its sync state; when the destination cannot be read, the accounts
        with the store's status alone and ``sync_state_error`` saying why (the store still answers)."""
        environment = await authenticate(request, self.store)
        accounts = await run_in_threadpool(self.store.list_accounts, environment)

        def states() -> dict[str, list[dict[str, Any]]]:
            if not self._is_synced():
                return {}
            with self._reader() as reader:
                return health.sync_states(reader, environment)

        problem = None
        try:
            found = await run_in_threadpool(states)
        except SyncedDataError as error:
            found, problem = {}, error.message
        body = {
            "environment": environment,
            "accounts": health.account_health(accounts, found, known=problem is None),
            "sync_state_error": problem,
        }
        return _guarded(JSONResponse(body))

    async def rows(self, request: Request) -> Response:
        environment = await authenticate(request, self.store)
        filters = self._filters(request, environment)
        offset, limit = parse_page(_query(request), max_limit=MAX_PAGE_ROWS)

        def work(reader: SyncedReader) -> dict[str, Any]:
            return figures.rows_page(reader, filters, figures.currencies(reader, environment), offset, limit)

        body = await run_in_threadpool(self._with_reader, environment, work)
        body.update(environment=environment, filters=filters.to_dict())
        return _guarded(JSONResponse(body))

    async def rows_csv(self, request: Request) -> Response:
        """Every row of the filters as CSV (the table view's columns), named after the environment and period."""
        environment = await authenticate(request, self.store)
        filters = self._filters(request, environment)
        text = await run_in_threadpool(partial(self._csv, environment, filters))
        name = f"unimeter-usage-{environment}-{filters.start.isoformat()}-{filters.end.isoformat()}.csv"
        response = Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{_safe_filename(name)}"'},
        )
        return _guarded(response)

    def _csv(self, environment: str, filters: Filters) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")

        def work(reader: SyncedReader) -> dict[str, Any]:
            currencies = figures.currencies(reader, environment)
            names = figures.row_names(currencies)
            writer.writerow(names)
            query, params = figures.rows_query(filters, currencies)
            for batch in reader.batches(query, params):
                for values in batch:
                    cells = figures.row_values(values, currencies)
                    writer.writerow([_csv_cell(name, cell) for name, cell in zip(names, cells, strict=True)])
            return {}

        if not self._with_reader(environment, work)["synced"]:
            writer.writerow(figures.row_names(()))
        return out.getvalue()


def _csv_cell(name: str, value: Any) -> Any:
    """A cell as CSV: empty for absent; a vendor's text that a spreadsheet would run as a formula gets a leading
    apostrophe (OWASP's advice for CSV injection). Numbers and amounts are left as they are."""
    if value is None:
        return ""
    if name in _TEXT_COLUMNS and isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _safe_filename(name: str) -> str:
    return "".join(character if character.isalnum() or character in "-_." else "_" for character in name)


class _GuardedStatic(StaticFiles):
    """The page's files, with the same security headers as the page."""

    async def get_response(self, path: str, scope: Any) -> Response:
        return _guarded(await super().get_response(path, scope))
