"""The main job on embedded defaults: start the vendor sandbox, create one integrated account per vendor pointing at
it, and print unified usage from all of them (no credentials, no network).

It runs the same pipeline users run: accounts go through the encrypted store, queries use each integration's default
parameters on the real clock, rows are validated. A progress line on stderr shows pages as they arrive.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from .errors import UnimeterError
from .run.destination import allow_base_urls
from .run.pipeline import iter_pages
from .spec.functions import parse_instant
from .store import open_store


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    charges: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        for charge in row.get("charges", []):
            charges[charge["type"]] += Decimal(repr(charge["amount"]))
    users = {row["user"].get("id") or row["user"].get("email") for row in rows if "user" in row}
    tokens = sum(row.get("usage", {}).get("tokens", {}).get("total", 0) for row in rows)
    return {"rows": len(rows), "users": len(users), "tokens": tokens, "charges": dict(charges)}


def query_label(integration: str, params: dict[str, str]) -> str:
    """How the demo names one query: the integration, plus its parameters when it is not the default query."""
    return " ".join([integration, *(f"{key}={value}" for key, value in sorted(params.items()))])


def _table(summaries: dict[str, dict[str, Any]], out: TextIO) -> None:
    """One line per query. `net` is the bill (docs/money.md); the other charge types are parts or gross figures,
    listed beside it, never to be added to it."""
    width = max([len("query"), *map(len, summaries)]) + 2
    header = f"{'query':<{width}}{'rows':>7}{'pages':>7}{'users':>7}{'tokens':>14}{'net USD':>14}  other charges (USD)"
    print(header, file=out)
    print("-" * len(header), file=out)
    for label, summary in summaries.items():
        charges = dict(summary["charges"])
        net = charges.pop("net", None)
        others = ", ".join(f"{kind} {amount:,.2f}" for kind, amount in sorted(charges.items())) or "-"
        tokens = f"{summary['tokens']:,}" if summary["tokens"] else "-"
        net_text = f"{net:,.2f}" if net is not None else "-"
        print(
            f"{label:<{width}}{summary['rows']:>7}{summary['pages']:>7}{summary['users'] or '-':>7}{tokens:>14}"
            f"{net_text:>14}  {others}",
            file=out,
        )


@dataclass(frozen=True)
class _Query:
    """One query of the demo, as its table names it."""

    label: str
    integration: str
    credentials: dict[str, Any]
    context: dict[str, Any]
    params: dict[str, Any]
    now: datetime | None = None


async def _collect(query: _Query, progress: TextIO, position: str) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    pages = 0
    async for page in iter_pages(
        query.integration, credentials=query.credentials, context=query.context, params=query.params, now=query.now
    ):
        rows.extend(page.rows)
        pages += 1
        print(f"\r{position} {query.label}: {pages} page(s), {len(rows)} rows", end="", file=progress, flush=True)
    print(file=progress)
    return rows, pages


def _run_queries(
    queries: list[_Query], progress: TextIO
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], bool]:
    """Each query's response and summary by label, and whether any failed (a failure is reported and the rest
    still run)."""
    responses: dict[str, dict[str, Any]] = {}
    summaries: dict[str, dict[str, Any]] = {}
    failed = False
    for index, query in enumerate(queries, start=1):
        position = f"[{index}/{len(queries)}]"
        try:
            rows, pages = asyncio.run(_collect(query, progress, position))
        except UnimeterError as error:
            print(f"\n{position} {query.label}: {error.code}: {error.message}", file=progress)
            failed = True
            continue
        responses[query.label] = {"result": rows, "next_cursor": None}
        summaries[query.label] = {**_summary(rows), "pages": pages}
    return responses, summaries, failed


def _print_results(
    responses: dict[str, dict[str, Any]], summaries: dict[str, dict[str, Any]], as_json: bool, out: TextIO, note: str
) -> None:
    if as_json:
        print(json.dumps(responses, indent=2), file=out)
    else:
        _table(summaries, out)
        print(note, file=out)


def run_replay_demo(
    integrations: list[str] | None = None,
    *,
    as_json: bool = False,
    out: TextIO = sys.stdout,
    progress: TextIO = sys.stderr,
) -> int:
    """The demo over recorded fixtures (``unimeter demo --from-fixtures``): any integration with cases, YAML-only
    ones included, replayed on loopback. Each is asked its ``defaults`` case's query (else its first case that
    expects a result) on that case's pinned clock, through the same pipeline as the live demo."""
    from .sandbox.replay import start_replay_sandbox

    try:
        sandbox = start_replay_sandbox(integrations or None)
    except ValueError as error:
        print(f"unimeter demo: {error}", file=progress)
        return 2
    with sandbox:
        endpoints = sandbox.endpoints()
        allow_base_urls(endpoint["base_url"] for endpoint in endpoints.values())
        queries = []
        for name, endpoint in endpoints.items():
            cases = [case for case in endpoint["cases"] if case["expects"] == "result"]
            chosen = next((case for case in cases if case["name"] == "defaults"), cases[0] if cases else None)
            if chosen is not None:
                queries.append((name, endpoint, chosen))
        print(f"replay sandbox: {len(queries)} integration(s) from recorded fixtures on 127.0.0.1", file=progress)
        responses, summaries, failed = _run_queries(
            [
                _Query(
                    f"{name}/{case['name']}",
                    name,
                    case["credentials"],
                    {**case["context"], "base_url": endpoint["base_url"]},
                    case["params"],
                    parse_instant(case["now"]) if case.get("now") else None,
                )
                for name, endpoint, case in queries
            ],
            progress,
        )
    _print_results(
        responses,
        summaries,
        as_json,
        out,
        "(unified rows replayed from each integration's recorded fixture case, on the case's pinned clock;"
        " net is the bill, docs/money.md)",
    )
    return 1 if failed else 0


DEMO_QUERY = """SELECT u.integration, c.currency, SUM(c.amount) AS net, COUNT(*) AS net_charges
FROM unimeter.usage u JOIN unimeter.charges c ON c.usage_id = u.id
WHERE c.type = 'net'
GROUP BY u.integration, c.currency
ORDER BY u.integration"""
"""The example the demo runs on what it synced: the bill per vendor (docs/sync.md)."""


def _sync_demo(store: Any, folder: Path, to: str | None, options: Any, progress: TextIO) -> tuple[Any, Any] | None:
    """Sync the demo's accounts into ``to`` (else a DuckDB file in ``folder``): the destination and the report, or
    None once the reason it could not is printed."""
    from .sync import parse_destination, sync

    try:
        destination = parse_destination(to or str(folder / "demo.duckdb"))
        return destination, sync(store, destination, options, progress=progress)
    except ValueError as error:
        print(f"unimeter demo: {error}", file=progress)
    except UnimeterError as error:
        print(f"unimeter demo: sync: {error.code}: {error.message}", file=progress)
    return None


def _sync_ending(store: Any, folder: Path, to: str | None, out: TextIO, progress: TextIO) -> bool:
    """Sync the demo's accounts into DuckDB (or ``to``) and print an example query's result; False when it failed."""
    from decimal import Decimal as Exact

    from .sync import SyncOptions
    from .sync.command import print_summary
    from .sync.warehouse import Warehouse

    synced = _sync_demo(store, folder, to, SyncOptions(), progress)
    if synced is None:
        return False
    destination, report = synced
    try:
        with Warehouse(destination) as warehouse:
            names, rows = warehouse.query(DEMO_QUERY)
    except UnimeterError as error:
        print(f"unimeter demo: sync: {error.code}: {error.message}", file=progress)
        return False
    print(file=out)
    print_summary(report, out)
    print(f"\n{DEMO_QUERY};", file=out)
    print("".join(f"{name:<18}" for name in names), file=out)
    for row in rows:
        cells = [format(value.normalize(), ",f") if isinstance(value, Exact) else str(value) for value in row]
        print("".join(f"{cell:<18}" for cell in cells), file=out)
    kept = f"kept in {destination.shown}" if to else "a temporary DuckDB file; --to FILE.duckdb keeps it"
    print(f"(the sandbox's rows synced by `unimeter sync`, {kept}; docs/sync.md has more queries)", file=out)
    return not report.failed


def _dashboard_ending(
    store: Any, folder: Path, to: str | None, host: str, port: int, out: TextIO, progress: TextIO
) -> bool:
    """Sync the demo's accounts over the last week, then serve the dashboard until interrupted; False when the sync
    failed (the dashboard is served anyway, showing what arrived and why the rest did not)."""
    from .demo_dashboard import serve_dashboard, sync_options
    from .sync.command import print_summary

    synced = _sync_demo(store, folder, to, sync_options(), progress)
    if synced is None:
        return False
    destination, report = synced
    print(file=out)
    print_summary(report, out)
    try:
        serve_dashboard(store, destination, host=host, port=port, environment="demo", out=out)
    except OSError as error:
        print(f"unimeter demo: cannot serve the dashboard on {host}:{port}: {error.strerror or error}", file=progress)
        return False
    return not report.failed


def run_demo(
    *,
    as_json: bool = False,
    seed: int = 0,
    out: TextIO = sys.stdout,
    progress: TextIO = sys.stderr,
    sync: bool = False,
    sync_to: str | None = None,
    dashboard: bool = False,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> int:
    """Print unified usage from every simulator; 0 on success, 1 when any vendor query failed. With ``sync``, end
    by syncing the sandbox's accounts into DuckDB (``sync_to``: another destination) and printing a query. With
    ``dashboard``, sync the last weeks instead and serve the dashboard on ``host:port`` until interrupted."""
    from .sandbox import SIMULATORS, SandboxConfig, account_fields, start_sandbox

    with (
        tempfile.TemporaryDirectory(prefix="unimeter-demo-") as folder,
        start_sandbox(config=SandboxConfig(seed=seed)) as sandbox,
    ):
        store = open_store(f"sqlite:///{Path(folder) / 'demo.db'}", key_file=Path(folder) / "secret.key")
        # The demo is its own operator: it lets credentials go to its simulators on loopback, and nowhere else new.
        allow_base_urls(endpoint["base_url"] for endpoint in sandbox.endpoints().values())
        accounts = []
        for name, endpoint in sandbox.endpoints().items():
            accounts.append(
                store.create_account(
                    name,
                    environment="demo",
                    **account_fields(endpoint),
                )
            )
        print(f"sandbox: {len(accounts)} simulators on 127.0.0.1; one integrated account each", file=progress)
        queries = [
            _Query(
                query_label(account.integration, params),
                account.integration,
                account.credentials,
                account.context,
                params,
            )
            for account in accounts
            for params in SIMULATORS[account.integration].demo_queries
        ]
        responses, summaries, failed = _run_queries(queries, progress)
        _print_results(
            responses,
            summaries,
            as_json,
            out,
            "(unified rows from the local vendor sandbox, default queries on today's clock plus each money report;"
            " net is the bill, docs/money.md; `unimeter demo --json` prints the rows in full)",
        )
        ending = progress if as_json else out  # --json keeps stdout one JSON document
        if dashboard:
            if not _dashboard_ending(store, Path(folder), sync_to, host, port, ending, progress):
                failed = True
        elif sync and not _sync_ending(store, Path(folder), sync_to, ending, progress):
            failed = True
        if not dashboard:
            print(
                "(to see them as charts in a browser: `unimeter demo --dashboard` syncs the sandbox's last week and "
                "prints the dashboard's address; docs/dashboard.md)",
                file=ending,
            )
    return 1 if failed else 0
