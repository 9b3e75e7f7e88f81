"""``unimeter sync``: the command line around :func:`unimeter.sync.sync` (options in, a summary out).

A progress line per stream goes to stderr when it is a terminal; the summary (a table, or ``--json``) always goes to
stdout. Exit 0 when every stream was synced or skipped, 1 when any failed or the destination failed, 2 for a wrong
command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from ..api.envelope import error_envelope
from ..errors import UnimeterError
from ..spec.functions import parse_instant
from ..store import open_store
from .runner import DEFAULT_BATCH_ROWS, SyncOptions, SyncReport, sync
from .warehouse import parse_destination


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``sync`` subcommand's options (the caller adds ``--database`` and ``--mappings``)."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--account", action="append", metavar="ID", help="sync this integrated account (repeatable; default: all)"
    )
    which.add_argument("--all", action="store_true", help="sync every integrated account (the default)")
    parser.add_argument("--environment", metavar="NAME", help="only the accounts of this environment")
    parser.add_argument(
        "--report",
        action="append",
        metavar="[PARAM=]VALUE",
        help="only this report of each integration, e.g. report_type=user_cost (repeatable; default: every report)",
    )
    parser.add_argument(
        "--to",
        metavar="URL",
        help="PATH.duckdb, duckdb:///ABSOLUTE/PATH or postgresql://user@host/db "
        "(default: usage.duckdb in the data directory's sync folder)",
    )
    parser.add_argument(
        "--since", metavar="DATE", help="fetch from this day (YYYY-MM-DD) instead of each report's re-fetch point"
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="forget the sync state, delete the selected reports' rows, and fetch again from --since or the "
        "integration's default start",
    )
    parser.add_argument(
        "--batch-rows",
        type=int,
        default=DEFAULT_BATCH_ROWS,
        metavar="N",
        help=f"rows per load; an interrupted run keeps what was loaded (default {DEFAULT_BATCH_ROWS})",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def print_summary(report: SyncReport, out: TextIO) -> None:
    """One line per stream, then the totals."""
    print(f"synced into {report.destination}", file=out)
    header = f"{'account':<10}{'integration':<16}{'report':<28}{'status':<9}{'rows':>9}{'pages':>7}  from"
    print(header, file=out)
    print("-" * len(header), file=out)
    for stream in report.streams:
        since = "resumed" if stream.resumed else stream.start_date or "default"
        print(
            f"{stream.account_id[:8]:<10}{stream.integration:<16}{stream.report:<28}{stream.status:<9}"
            f"{stream.rows:>9,}{stream.pages:>7}  {since}",
            file=out,
        )
        if stream.error:
            print(f"{'':<10}{stream.error}", file=out)
    failed = sum(1 for stream in report.streams if stream.status == "failed")
    skipped = sum(1 for stream in report.streams if stream.status == "skipped")
    print(f"{report.rows:,} rows from {len(report.streams)} report(s): {failed} failed, {skipped} skipped", file=out)


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        destination = parse_destination(args.to)
        since = parse_instant(args.since) if args.since else None
    except ValueError as error:
        print(f"unimeter sync: {error}", file=err)
        return 2
    if args.batch_rows < 1:
        print("unimeter sync: --batch-rows must be at least 1", file=err)
        return 2
    options = SyncOptions(
        accounts=tuple(args.account or ()),
        environment=args.environment,
        reports=tuple(args.report or ()),
        since=since,
        full_refresh=args.full_refresh,
        batch_rows=args.batch_rows,
    )
    try:
        report = sync(open_store(args.database), destination, options, progress=err)
    except UnimeterError as error:
        print(json.dumps(error_envelope(error), indent=2), file=err)
        return 1
    if args.json:
        print(json.dumps(report.to_dict(), indent=2), file=out)
    else:
        print_summary(report, out)
    return 1 if report.failed else 0
