"""The ``unimeter`` command: ``check`` replays fixtures, ``lint`` checks spec files, ``usage`` runs one query ...

``usage`` answers a query through the HTTP endpoint's parser and use case (:mod:`unimeter.cli_usage`) and prints the
response body as the HTTP API returns it (compact JSON, indented on a terminal); an error prints the error envelope to
stderr and exits 1, a wrong command line exits 2. No secret is ever printed. Every command that takes an integration
name takes ``--mappings DIR`` (repeatable), which puts DIR in front of ``UNIMETER_MAPPINGS_PATH`` for this run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .api.envelope import error_envelope
from .api.formats import RESPONSE_FORMATS
from .cli_usage import CommandLineError, UsageCommand, integration_params, key_value_items, single_values
from .docs_gen import late_data_info
from .errors import SpecError, UnimeterError
from .run.destination import ALLOWED_BASE_URLS_ENV
from .spec import MAPPINGS_PATH_ENV, add_mapping_folders, available_integrations, integration_sources, lint_spec
from .spec.functions import parse_instant
from .spec.registry import load_integration
from .store import ACCOUNT_STATUSES, DATABASE_URL_ENV, Store, open_store
from .store.expiry import parse_expiry
from .store.model import show_time
from .testing.fixtures import discover_cases, run_cases, update_case
from .version import __version__


def _pairs(values: Sequence[str] | None, option: str) -> dict[str, str]:
    """``KEY=VALUE`` options, each key once (a repeat is a :class:`CommandLineError`: exit 2, never "last wins")."""
    return single_values(values, option)


def _cmd_check(args: argparse.Namespace) -> int:
    # Each name is an integration or one case of it (INTEGRATION/CASE).
    wanted_cases = {name for name in args.integrations if "/" in name}
    integrations = sorted({name.split("/", 1)[0] for name in args.integrations})
    unknown = sorted(set(integrations) - set(available_integrations()))
    if unknown:
        print(
            f"unimeter check: unknown integration {unknown[0]!r}; available: {', '.join(available_integrations())}",
            file=sys.stderr,
        )
        return 2
    roots = [Path(folder) for folder in args.fixtures] if args.fixtures else None
    cases = discover_cases(integrations or None, roots)
    whole = {name for name in args.integrations if "/" not in name}
    cases = [case for case in cases if not args.integrations or case.integration in whole or case.id in wanted_cases]
    missing = sorted(wanted_cases - {case.id for case in cases})
    if missing:
        print(f"unimeter check: no fixture case {missing[0]!r}", file=sys.stderr)
        return 2
    if not cases:
        where = ", ".join(args.fixtures) if args.fixtures else "fixtures/ beside each mappings folder"
        print(f"unimeter check: no fixture cases found in {where}", file=sys.stderr)
        return 1
    failed = 0
    for outcome in run_cases(cases):
        draft = " (draft: expected.json not reviewed yet)" if outcome.case.call().get("draft") else ""
        if outcome.ok:
            print(f"ok    {outcome.case.id}{draft}")
            continue
        diff = update_case(outcome) if args.update else None
        if diff is not None:
            print(f"UPDATED {outcome.case.id}: expected.json rewritten from the replay")
            print("      " + diff.replace("\n", "\n      "))
            continue
        failed += 1
        print(f"FAIL  {outcome.case.id}")
        for problem in outcome.problems:
            print("      " + problem.replace("\n", "\n      "))
    print(f"{len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


def _cmd_init(args: argparse.Namespace) -> int:
    from .authoring.init import InitError, init_integration
    from .spec.registry import mapping_folders

    folders = mapping_folders()
    mappings_dir = folders[0] if folders else Path.cwd() / "mappings"
    fixtures_dir = Path(args.fixtures) if args.fixtures else mappings_dir.parent / "fixtures"
    try:
        scaffold = init_integration(args.name, mappings_dir, fixtures_dir)
    except InitError as error:
        print(f"unimeter init: {error}", file=sys.stderr)
        return 1
    on_path = "" if folders else f" --mappings {mappings_dir}"
    print(f"wrote {scaffold.mapping}\nwrote {scaffold.case}")
    print("next steps:")
    print(f"  1. edit {scaffold.mapping}: the vendor's base_url, auth, request, pagination, records and transform")
    print(f"  2. unimeter lint {scaffold.mapping}")
    print(
        f"  3. unimeter record {args.name} defaults{on_path} --credential api_key=... [--context base_url=...]"
        " [--param K=V]"
    )
    print(f"  4. check {scaffold.case.parent / 'expected.json'} against the payloads, then drop draft from case.yaml")
    print(f"  5. unimeter check {args.name}{on_path}")
    return 0


def _cmd_record(args: argparse.Namespace) -> int:
    from .authoring.record import RecordError, record_case
    from .spec.registry import find_integration

    try:
        now = parse_instant(args.now) if args.now else None
    except ValueError as error:
        print(f"unimeter record: --now: {error}", file=sys.stderr)
        return 2
    if "/" in args.case or args.case in ("", ".", ".."):
        print(f"unimeter record: case name {args.case!r} must be a plain folder name", file=sys.stderr)
        return 2
    try:
        spec = load_integration(args.integration)
        root = Path(args.fixtures) if args.fixtures else find_integration(args.integration).fixtures_dir
        recording = record_case(
            spec,
            root / args.integration / args.case,
            credentials=_pairs(args.credential, "--credential"),
            context=_pairs(args.context, "--context"),
            params=integration_params(spec, key_value_items(args.param, "--param")),
            now=now,
            scrub_personal=args.scrub_personal,
            keep_base_url=args.keep_base_url,
        )
    except (RecordError, AssertionError) as error:
        print(f"unimeter record: {error}", file=sys.stderr)
        return 1
    except UnimeterError as error:
        print(json.dumps(error_envelope(error), indent=2), file=sys.stderr)
        return 1
    outcome = f"the vendor error {recording.error}" if recording.error else "the result"
    print(f"recorded {recording.exchanges} exchange(s) and {outcome} in {recording.folder}")
    print("expected.json is a draft (case.yaml says draft: true): check it against the payloads, then drop draft")
    return 0


def _cmd_lint(args: argparse.Namespace) -> int:
    from .spec.semantic_lint import LintWarning

    files = [Path(f) for f in args.files] or [source.file for source in integration_sources().values()]
    bad = 0
    for file in files:
        problems = lint_spec(file)
        for problem in problems:
            print(problem.message)
        errors = [p for p in problems if args.strict or not isinstance(p, LintWarning)]
        if errors:
            bad += 1
        else:
            warned = len(problems)
            print(f"{file}: ok" + (f" ({warned} warning{'s' if warned > 1 else ''})" if warned else ""))
    return 1 if bad else 0


def _cmd_usage(args: argparse.Namespace) -> int:
    """One query through the HTTP endpoint's parser and use case (unimeter.cli_usage), printed on stdout."""
    try:
        now = parse_instant(args.now) if args.now else None
    except ValueError as error:
        print(f"unimeter usage: --now: {error}", file=sys.stderr)
        return 2
    return UsageCommand(
        integration=args.integration,
        credentials=args.credential,
        context=args.context,
        params=args.param,
        response_format=args.format,
        now=now,
        pretty=args.pretty,
    ).run()


def _money_and_late_data(name: str) -> dict[str, Any]:
    """What each operation's money is and how late its vendor revises data (docs/money.md, spec-language.md)."""
    try:
        spec = load_integration(name)
    except SpecError as error:
        return {"error": str(error)}
    return {
        "late_data": late_data_info(spec.late_data),
        "operations": [
            {"name": op.name, "money": op.money, "late_data": late_data_info(op.late_data)} for op in spec.operations
        ],
    }


def _cmd_integrations(args: argparse.Namespace) -> int:
    """Every integration on the search path: name, where its file is, and whether it overrides a built-in one."""
    sources = integration_sources()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": s.name,
                        "file": str(s.file),
                        "builtin": s.builtin,
                        "overrides": str(s.overrides) if s.overrides else None,
                        "fixtures": str(s.fixtures_dir / s.name),
                        **_money_and_late_data(s.name),
                    }
                    for s in sources.values()
                ],
                indent=2,
            )
        )
        return 0
    for source in sources.values():
        origin = "built-in" if source.builtin else ("overrides built-in" if source.overrides else "user")
        print(f"{source.name:<16} {origin:<18} {source.file}")
    return 0


def _cmd_docs(args: argparse.Namespace) -> int:
    """Write the integrations page (docs/integrations.md), or with --check tell whether the file is stale."""
    from .docs_gen import generate

    try:
        page = generate()
    except UnimeterError as error:
        print(f"unimeter docs: {error}", file=sys.stderr)
        return 1
    output = Path(args.output)
    if args.check:
        current = output.read_text(encoding="utf-8") if output.is_file() else None
        if current != page:
            state = "does not exist" if current is None else "is stale"
            print(
                f"unimeter docs: {output} {state}: it does not match the mappings;"
                f" run `unimeter docs --output {output}`",
                file=sys.stderr,
            )
            return 1
        print(f"{output}: up to date")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    print(f"wrote {output}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    if args.from_fixtures:
        from .demo import run_replay_demo

        return run_replay_demo(args.integrations or None, as_json=args.json)
    if args.integrations:
        print("unimeter demo: naming integrations needs --from-fixtures", file=sys.stderr)
        return 2
    if args.to and not (args.sync or args.dashboard):
        print("unimeter demo: --to needs --sync or --dashboard", file=sys.stderr)
        return 2
    if (args.host or args.port is not None) and not args.dashboard:
        print("unimeter demo: --host and --port need --dashboard", file=sys.stderr)
        return 2
    return run_demo(
        as_json=args.json,
        seed=args.seed,
        sync=args.sync,
        sync_to=args.to,
        dashboard=args.dashboard,
        host=args.host or "127.0.0.1",
        port=8000 if args.port is None else args.port,
    )


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .api.cursor import load_cursor_key
    from .api.limits import limits_from_env
    from .service import UsageService, create_app
    from .service.dashboard_api import dashboard_address
    from .store.sql import DATABASE_URL_ENV
    from .synced import SYNC_URL_ENV, synced_database_from

    if args.workers < 1:
        print("unimeter serve: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        # Opened here even with several workers: a bad URL fails now, with a message, and the store's tables, the
        # secret key and the cursor key exist before the workers start (so they cannot race to create them).
        store = open_store(args.database)
        cursor_key = load_cursor_key()
    except UnimeterError as error:
        print(json.dumps(error_envelope(error), indent=2), file=sys.stderr)
        return 1
    try:
        synced = synced_database_from(args.sync_to, option="--sync-to")
    except ValueError as error:
        print(f"unimeter serve: {error}", file=sys.stderr)
        return 2
    # With --port 0 the port is the system's choice, which uvicorn's own line below gives.
    address = dashboard_address(args.host, args.port) if args.port else "/ of the address below"
    print(f"unimeter serve: dashboard at {address} (reads {synced.shown})", file=sys.stderr)
    if args.workers == 1:
        app = create_app(UsageService(store, cursor_key, limits=limits_from_env()), synced)
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")
        return 0
    # Worker processes build the same app from the environment they inherit (--mappings already went there).
    if args.database:
        os.environ[DATABASE_URL_ENV] = args.database
    if args.sync_to:
        os.environ[SYNC_URL_ENV] = args.sync_to
    uvicorn.run(
        "unimeter.service.app:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
    )
    return 0


def _cmd_sandbox(args: argparse.Namespace) -> int:
    """Run the vendor simulators (or, with --from-fixtures, a replay of recorded cases) on loopback until
    interrupted, printing what accounts need to use them."""
    import time

    from .sandbox import SandboxConfig, parse_fault, start_sandbox
    from .sandbox.replay import start_replay_sandbox

    try:
        faults = [parse_fault(text) for text in args.fault or []]
        config = SandboxConfig(
            seed=args.seed,
            enforce_rate_limits=args.enforce_rate_limits,
            rate_limit_retry_after=not args.no_retry_after,
        )
        if args.from_fixtures:
            replay = start_replay_sandbox(args.vendors or None, config, faults, prefer=args.case or [])
            sandbox, endpoints = replay.sandbox, replay.endpoints()
        elif args.case:
            raise ValueError("--case only applies with --from-fixtures")
        else:
            sandbox = start_sandbox(args.vendors or None, config, faults)
            endpoints = sandbox.endpoints()
    except ValueError as error:
        print(f"unimeter sandbox: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(endpoints, indent=2), flush=True)
    else:
        for name, endpoint in endpoints.items():
            pairs = [f"--credential {k}={v}" for k, v in endpoint["credentials"].items()]
            pairs += [f"--context {k}={v}" for k, v in endpoint["context"].items()]
            print(f"{name:<13} {endpoint['base_url']}  {' '.join(pairs)}", flush=True)
            for case in endpoint.get("cases", []):
                print(f"  {_replay_case_line(case, endpoint)}", flush=True)
        hosts = ",".join(sorted({endpoint["base_url"] for endpoint in endpoints.values()}))
        print(f"to query them: export {ALLOWED_BASE_URLS_ENV}={hosts}", flush=True)
        print("serving until interrupted (Ctrl+C)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


def _replay_case_line(case: dict[str, Any], endpoint: dict[str, Any]) -> str:
    """One replayed case as the options of `unimeter usage` that ask for its requests (credentials and context only
    where they differ from the endpoint's; a list parameter repeats, a value is shell-quoted when it must be)."""
    import shlex

    def option(name: str, key: str, value: Any) -> list[str]:
        values = value if isinstance(value, list) else [value]
        return [f"--{name} {shlex.quote(f'{key}={item}')}" for item in values]

    options = [f"--now {case['now']}"] if case["now"] else []
    options += [text for k, v in case["params"].items() for text in option("param", k, v)]
    if case["credentials"] != endpoint["credentials"]:
        options += [text for k, v in case["credentials"].items() for text in option("credential", k, v)]
    if case["context"] != endpoint["context"]:
        options += [text for k, v in case["context"].items() for text in option("context", k, v)]
    expects = "  (expects an error)" if case["expects"] == "error" else ""
    return f"{case['name']:<28} {' '.join(options)}{expects}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unimeter", description="Unified usage metering over AI and cloud vendors.")
    parser.add_argument("--version", action="version", version=f"unimeter {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    mappings = argparse.ArgumentParser(add_help=False)
    mappings.add_argument(
        "--mappings",
        action="append",
        default=[],
        metavar="DIR",
        help=f"a folder of mapping files searched before ${MAPPINGS_PATH_ENV} and the built-in "
        "mappings (repeatable; the first folder holding a name wins)",
    )
    check = commands.add_parser(
        "check", parents=[mappings], help="replay the recorded fixtures and compare with the expected output"
    )
    check.add_argument("integrations", nargs="*", metavar="INTEGRATION[/CASE]")
    check.add_argument(
        "--update",
        action="store_true",
        help="rewrite the expected.json of each failing case from its replay, printing the diff first",
    )
    check.add_argument(
        "--fixtures",
        action="append",
        default=[],
        metavar="DIR",
        help="read cases from DIR/<integration>/<case>/ instead of fixtures/ beside each mappings folder (repeatable)",
    )
    check.set_defaults(handler=_cmd_check)
    init = commands.add_parser(
        "init", parents=[mappings], help="scaffold mappings/NAME.yaml and fixtures/NAME/defaults/ for a new vendor"
    )
    init.add_argument("name", metavar="NAME")
    init.add_argument(
        "--fixtures", metavar="DIR", help="where the fixture cases go (default: fixtures/ beside the mappings folder)"
    )
    init.set_defaults(handler=_cmd_init)
    record = commands.add_parser(
        "record", parents=[mappings], help="run a query against the vendor and write it as a fixture case"
    )
    record.add_argument("integration", metavar="INTEGRATION")
    record.add_argument("case", metavar="CASE")
    record.add_argument("--credential", action="append", metavar="KEY=VALUE")
    record.add_argument("--context", action="append", metavar="KEY=VALUE")
    record.add_argument("--param", action="append", metavar="KEY=VALUE")
    record.add_argument("--now", metavar="ISO8601", help="pin the clock used for defaults (default: now)")
    record.add_argument(
        "--scrub-personal", action="store_true", help="replace emails and people's names with consistent pseudonyms"
    )
    record.add_argument(
        "--keep-base-url",
        action="store_true",
        help="keep --context base_url in the case (default: a case recorded against a stand-in such as a local "
        "server is written as if from the mapping's own base URL, so it replays without allowing the stand-in)",
    )
    record.add_argument(
        "--fixtures", metavar="DIR", help="write DIR/INTEGRATION/CASE/ (default: fixtures/ beside the mapping)"
    )
    record.set_defaults(handler=_cmd_record)
    lint = commands.add_parser(
        "lint", parents=[mappings], help="check integration spec files (default: every mapping on the search path)"
    )
    lint.add_argument("files", nargs="*", metavar="FILE")
    lint.add_argument(
        "--strict", action="store_true", help="fail on warnings too (e.g. a path the response schema does not have)"
    )
    lint.set_defaults(handler=_cmd_lint)
    integrations = commands.add_parser(
        "integrations", parents=[mappings], help="list the integrations found on the mapping search path and where"
    )
    integrations.add_argument("--json", action="store_true", help="print them as a JSON array")
    integrations.set_defaults(handler=_cmd_integrations)
    docs = commands.add_parser(
        "docs", parents=[mappings], help="generate docs/integrations.md from the mappings on the search path"
    )
    docs.add_argument("--output", default="docs/integrations.md", metavar="FILE", help="where the page goes")
    docs.add_argument("--check", action="store_true", help="exit 1 when FILE differs from what would be generated")
    docs.set_defaults(handler=_cmd_docs)
    usage = commands.add_parser(
        "usage",
        parents=[mappings],
        help="run one usage query as GET /unified/usage-metering/usage would and print the response",
    )
    usage.add_argument("integration", metavar="INTEGRATION")
    usage.add_argument("--credential", action="append", metavar="KEY=VALUE", help="each credential once")
    usage.add_argument("--context", action="append", metavar="KEY=VALUE", help="each context key once")
    usage.add_argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="a query parameter as the HTTP API takes it: the integration's own (a list parameter may repeat), "
        "truto_*, remote_query[KEY], limit, next_cursor; without limit the whole result is printed",
    )
    usage.add_argument("--now", metavar="ISO8601", help="pin the clock used for defaults")
    usage.add_argument(
        "--format",
        choices=RESPONSE_FORMATS,
        help="shorthand for --param truto_response_format=FORMAT (default unified)",
    )
    layout = usage.add_mutually_exclusive_group()
    layout.add_argument(
        "--pretty",
        dest="pretty",
        action="store_const",
        const=True,
        help="indent the JSON (the default when stdout is a terminal)",
    )
    layout.add_argument(
        "--compact",
        dest="pretty",
        action="store_const",
        const=False,
        help="one line of JSON (the default when stdout is not a terminal)",
    )
    usage.set_defaults(handler=_cmd_usage)
    serve = commands.add_parser(
        "serve", parents=[mappings], help="run the HTTP service (GET /unified/usage-metering/usage)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--database",
        default=None,
        help="sqlite:///path.db or postgresql://... "
        "(default: UNIMETER_DATABASE_URL, else a file under the user's data directory)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="service processes on one port (default 1); one per core uses every core, since one process runs "
        "its transforms on one; accounts, tokens and rate budgets are shared through the store",
    )
    serve.add_argument(
        "--sync-to",
        metavar="URL",
        help="the sync destination the dashboard at / reads: PATH.duckdb or postgresql://... "
        "(default: UNIMETER_SYNC_URL, else the file unimeter sync writes by default)",
    )
    serve.set_defaults(handler=_cmd_serve)
    sandbox = commands.add_parser(
        "sandbox", parents=[mappings], help="run the local vendor simulators (no credentials, no network)"
    )
    sandbox.add_argument("vendors", nargs="*", metavar="VENDOR")
    sandbox.add_argument(
        "--from-fixtures",
        action="store_true",
        help="replay each integration's recorded fixture cases instead of the simulators (any integration, "
        "YAML-only ones too); VENDOR names integrations",
    )
    sandbox.add_argument(
        "--case",
        action="append",
        metavar="[INTEGRATION/]CASE",
        help="with --from-fixtures: answer a request recorded by several cases from this case first (repeatable)",
    )
    sandbox.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    sandbox.add_argument(
        "--fault",
        action="append",
        metavar="VENDOR=KIND[:COUNT]",
        help="make the first COUNT requests to VENDOR fail with KIND (repeatable)",
    )
    sandbox.add_argument(
        "--enforce-rate-limits",
        action="store_true",
        help="answer 429 to requests over each vendor's documented rate limit (some allow 20 a minute)",
    )
    sandbox.add_argument("--no-retry-after", action="store_true", help="send those 429s without a Retry-After header")
    sandbox.add_argument("--json", action="store_true", help="print the endpoints as one JSON object")
    sandbox.set_defaults(handler=_cmd_sandbox)
    demo = commands.add_parser(
        "demo", parents=[mappings], help="start the vendor sandbox and print unified usage from every vendor"
    )
    demo.add_argument("--json", action="store_true", help="print the full unified responses")
    demo.add_argument("--seed", type=int, default=0, help="seed of the sandbox's synthetic data")
    demo.add_argument(
        "--from-fixtures",
        action="store_true",
        help="replay recorded fixture cases instead of the simulators: any integration with cases, YAML-only too",
    )
    demo.add_argument("integrations", nargs="*", metavar="INTEGRATION", help="with --from-fixtures: only these")
    demo.add_argument(
        "--sync",
        action="store_true",
        help="end by syncing the sandbox's accounts into DuckDB (unimeter sync) and printing an example query",
    )
    demo.add_argument(
        "--to", metavar="URL", help="with --sync or --dashboard: keep the rows in this FILE.duckdb or postgresql://..."
    )
    demo.add_argument(
        "--dashboard",
        action="store_true",
        help="sync the sandbox's last week, then serve the dashboard and print its address (until Ctrl-C)",
    )
    demo.add_argument("--host", help="with --dashboard: the address to listen on (default 127.0.0.1)")
    demo.add_argument("--port", type=int, help="with --dashboard: the port (default 8000; 0 picks a free one)")
    demo.set_defaults(handler=_cmd_demo)
    _add_sync_command(commands, mappings)
    _add_store_commands(commands, mappings)
    _add_export_command(commands, mappings)
    _add_worker_command(commands, mappings)
    return parser


def _cmd_export_focus(args: argparse.Namespace) -> int:
    from .focus.command import ExportCommand

    return ExportCommand(
        out=args.out,
        start=args.start,
        end=args.end,
        integrations=args.integration or [],
        account_ids=args.account or [],
        environment=args.environment,
        database=args.database,
        source=args.source,
    ).run()


def _add_export_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], mappings: argparse.ArgumentParser
) -> None:
    """``export focus``: FOCUS rows (docs/focus.md) of the store's accounts or a sync destination, as CSV or
    Parquet."""
    export = commands.add_parser("export", help="export usage and cost in an exchange format")
    formats = export.add_subparsers(dest="format", required=True)
    focus = formats.add_parser(
        "focus",
        parents=[mappings],
        help="FOCUS 1.0 rows (the FinOps Open Cost and Usage Specification) to a .csv or .parquet file",
    )
    focus.add_argument("--out", required=True, metavar="FILE", help="FILE.csv or FILE.parquet")
    focus.add_argument("--start", metavar="DATE", help="first UTC day (default: the 1st of the current month)")
    focus.add_argument("--end", metavar="DATE", help="last UTC day, included (default: today)")
    chosen = focus.add_mutually_exclusive_group()
    chosen.add_argument(
        "--integration", action="append", metavar="NAME", help="every account of this integration (repeatable)"
    )
    chosen.add_argument("--account", action="append", metavar="ID", help="this account (repeatable)")
    focus.add_argument("--environment", metavar="NAME", help="only accounts of this environment")
    focus.add_argument(
        "--database",
        metavar="URL",
        help=f"the accounts store: sqlite:///ABSOLUTE/PATH.db or postgresql://... (default: ${DATABASE_URL_ENV})",
    )
    focus.add_argument(
        "--from",
        dest="source",
        metavar="URL",
        help="read a sync destination (PATH.duckdb, duckdb:///PATH or postgresql://...) instead of querying the "
        "vendors",
    )
    focus.set_defaults(handler=_cmd_export_focus)


def _cmd_worker(args: argparse.Namespace) -> int:
    from .queue.command import WorkerArgs, worker_command

    return worker_command(
        WorkerArgs(
            queue_url=args.queue_url,
            database=args.database,
            destination=args.to,
            concurrency=args.concurrency,
            stalled_after=args.stalled_after,
            batch_rows=args.batch_rows,
        )
    )


def _add_worker_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], mappings: argparse.ArgumentParser
) -> None:
    """``worker``: take sync jobs from the PostgreSQL queue (docs/sync.md, "Distributed set-up")."""
    worker = commands.add_parser(
        "worker", parents=[mappings], help="take sync jobs from a PostgreSQL queue (any number, on any machines)"
    )
    worker.add_argument(
        "--queue-url",
        metavar="URL",
        help="the queue's PostgreSQL database (default: $UNIMETER_QUEUE_URL, else the accounts store's database)",
    )
    worker.add_argument("--to", metavar="URL", required=True, help="where rows go: postgresql://..., shared by workers")
    worker.add_argument("--concurrency", type=int, default=1, metavar="N", help="jobs run at once (default 1)")
    worker.add_argument(
        "--stalled-after",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="a worker silent this long is dead and its jobs run again elsewhere (default 30)",
    )
    worker.add_argument(
        "--batch-rows", type=int, metavar="N", help="rows per load into the destination (default: the sync's, 5000)"
    )
    worker.add_argument(
        "--database",
        metavar="URL",
        help=f"the accounts store, shared by every worker: postgresql://... (default: ${DATABASE_URL_ENV})",
    )
    worker.set_defaults(handler=_cmd_worker)


def _cmd_sync(args: argparse.Namespace) -> int:
    if args.queue_url is not None and not (args.enqueue or args.schedule is not None):
        print("unimeter sync: --queue-url goes with --enqueue or --schedule (a plain sync runs here)", file=sys.stderr)
        return 2
    if args.enqueue or args.schedule is not None:
        from .queue.command import EnqueueArgs, enqueue_command

        return enqueue_command(
            EnqueueArgs(
                queue_url=args.queue_url,
                database=args.database,
                accounts=args.account or [],
                environment=args.environment,
                since=args.since,
                full_refresh=args.full_refresh,
                reports=args.report or [],
                schedule=args.schedule,
                destination=args.to,
                as_json=args.json,
            )
        )
    from .sync.command import run

    return run(args)


def _add_sync_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], mappings: argparse.ArgumentParser
) -> None:
    """``sync``: load every integrated account's usage into DuckDB or PostgreSQL (docs/sync.md)."""
    from .sync.command import add_arguments

    sync = commands.add_parser(
        "sync",
        parents=[mappings],
        help="load the integrated accounts' usage into DuckDB (default) or PostgreSQL, incrementally (docs/sync.md)",
    )
    add_arguments(sync)
    queued = sync.add_mutually_exclusive_group()
    queued.add_argument(
        "--enqueue", action="store_true", help="queue a sync job per account for `unimeter worker`s instead of running"
    )
    queued.add_argument(
        "--schedule", metavar="CRON", help="queue them at every tick of CRON (e.g. '0 * * * *'), until stopped"
    )
    sync.add_argument(
        "--queue-url",
        metavar="URL",
        help="with --enqueue/--schedule: the queue's PostgreSQL database (default: $UNIMETER_QUEUE_URL, else the "
        "accounts store's)",
    )
    sync.add_argument(
        "--database",
        metavar="URL",
        help=f"the accounts store: sqlite:///ABSOLUTE/PATH.db or postgresql://... "
        f"(default: ${DATABASE_URL_ENV}, else unimeter.db in the user's data dir)",
    )
    sync.set_defaults(handler=_cmd_sync)


def _run_on_store(args: argparse.Namespace, action: Callable[[Store], Any]) -> int:
    """Open the store named by ``--database``, run ``action``, print its result as JSON or the error envelope."""
    try:
        result = action(open_store(args.database))
    except UnimeterError as error:
        print(json.dumps(error_envelope(error), indent=2), file=sys.stderr)
        return 1
    if result is not None:
        print(json.dumps(result, indent=2))
    return 0


def _cmd_accounts_create(args: argparse.Namespace) -> int:
    return _run_on_store(
        args,
        lambda store: store.create_account(
            args.integration,
            environment=args.environment,
            credentials=_pairs(args.credential, "--credential"),
            context=_pairs(args.context, "--context"),
        ).to_public(),
    )


def _cmd_accounts_list(args: argparse.Namespace) -> int:
    return _run_on_store(args, lambda store: [a.to_public() for a in store.list_accounts(args.environment)])


def _cmd_accounts_get(args: argparse.Namespace) -> int:
    return _run_on_store(args, lambda store: store.get_account(args.id, environment=args.environment).to_public())


def _cmd_accounts_update(args: argparse.Namespace) -> int:
    return _run_on_store(
        args,
        lambda store: store.update_account(
            args.id,
            environment=args.environment,
            credentials=_pairs(args.credential, "--credential") if args.credential else None,
            context=_pairs(args.context, "--context") if args.context else None,
            status=args.status,
        ).to_public(),
    )


def _cmd_accounts_delete(args: argparse.Namespace) -> int:
    def delete(store: Store) -> dict[str, Any]:
        store.delete_account(args.id, environment=args.environment)
        return {"id": args.id, "deleted": True}

    return _run_on_store(args, delete)


def _cmd_tokens_create(args: argparse.Namespace) -> int:
    """Print the new token alone on stdout (for ``$(...)``); it is stored only as a hash and cannot be shown again."""

    def create(store: Store) -> None:
        expires_at = None if args.expires is None else parse_expiry(args.expires, field="expires")
        token, record = store.issue_token(environment=args.environment, name=args.name, expires_at=expires_at)
        print(token)
        ends = "never expires" if expires_at is None else f"expires at {show_time(expires_at)}"
        print(
            f"unimeter tokens: API token {record.id} for environment {args.environment!r}, {ends}; store it now, it "
            "is not shown again",
            file=sys.stderr,
        )

    return _run_on_store(args, create)


def _cmd_tokens_list(args: argparse.Namespace) -> int:
    """Every token of one environment (or all), without secrets: id, name, status, created, expires, revoked."""
    now = datetime.now(UTC)
    return _run_on_store(args, lambda store: [t.to_public(now) for t in store.list_tokens(args.environment)])


def _cmd_tokens_revoke(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    return _run_on_store(args, lambda store: store.revoke_token(args.id, environment=args.environment).to_public(now))


def _cmd_tokens_expire(args: argparse.Namespace) -> int:
    """Set (bring forward or extend: the operator decides) when a token ends."""
    now = datetime.now(UTC)
    return _run_on_store(
        args,
        lambda store: store.set_token_expiry(
            args.id, environment=args.environment, expires_at=parse_expiry(args.at, field="at")
        ).to_public(now),
    )


def _add_store_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], mappings: argparse.ArgumentParser
) -> None:
    """``accounts`` and ``tokens``: manage the integrated-accounts store that the HTTP service reads."""
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument(
        "--database",
        metavar="URL",
        help=f"sqlite:///ABSOLUTE/PATH.db or postgresql://... "
        f"(default: ${DATABASE_URL_ENV}, else unimeter.db in the user's data dir)",
    )
    accounts = commands.add_parser("accounts", help="create, list, show, update and delete integrated accounts")
    actions = accounts.add_subparsers(dest="action", required=True)
    create = actions.add_parser(
        "create", parents=[database, mappings], help="store a new account; prints it with its id"
    )
    create.add_argument("integration", metavar="INTEGRATION")
    create.add_argument("--environment", required=True, metavar="NAME")
    create.add_argument("--credential", action="append", metavar="KEY=VALUE")
    create.add_argument("--context", action="append", metavar="KEY=VALUE")
    create.set_defaults(handler=_cmd_accounts_create)
    listing = actions.add_parser("list", parents=[database, mappings], help="accounts, of one environment or all")
    listing.add_argument("--environment", metavar="NAME")
    listing.set_defaults(handler=_cmd_accounts_list)
    for name, handler, text in (
        ("get", _cmd_accounts_get, "show one account (credential values are never shown)"),
        ("update", _cmd_accounts_update, "replace credentials, context or status"),
        ("delete", _cmd_accounts_delete, "delete one account"),
    ):
        action = actions.add_parser(name, parents=[database, mappings], help=text)
        action.add_argument("id", metavar="ID")
        action.add_argument("--environment", required=True, metavar="NAME")
        action.set_defaults(handler=handler)
        if name == "update":
            action.add_argument(
                "--credential",
                action="append",
                metavar="KEY=VALUE",
                help="the full new set of credentials (new credentials make the account active)",
            )
            action.add_argument("--context", action="append", metavar="KEY=VALUE", help="the full new context")
            action.add_argument("--status", choices=ACCOUNT_STATUSES)
    tokens = commands.add_parser("tokens", help="API tokens of the HTTP service")
    token_actions = tokens.add_subparsers(dest="action", required=True)
    token = token_actions.add_parser("create", parents=[database], help="create a token for one environment")
    token.add_argument("--environment", required=True, metavar="NAME")
    token.add_argument("--name", metavar="TEXT", help="what the token is for, shown in listings")
    token.add_argument(
        "--expires", metavar="WHEN", help="an RFC 3339 instant (2027-01-01T00:00:00Z) or a duration (90d, 12h, 30m)"
    )
    token.set_defaults(handler=_cmd_tokens_create)
    listing = token_actions.add_parser("list", parents=[database], help="tokens (never their secrets) and status")
    listing.add_argument("--environment", metavar="NAME")
    listing.set_defaults(handler=_cmd_tokens_list)
    revoke = token_actions.add_parser("revoke", parents=[database], help="end a token now")
    revoke.add_argument("id", metavar="TOKEN_ID")
    revoke.add_argument("--environment", required=True, metavar="NAME")
    revoke.set_defaults(handler=_cmd_tokens_revoke)
    expire = token_actions.add_parser("expire", parents=[database], help="set when a token ends")
    expire.add_argument("id", metavar="TOKEN_ID")
    expire.add_argument("--environment", required=True, metavar="NAME")
    expire.add_argument("--at", required=True, metavar="WHEN", help="an RFC 3339 instant or a duration from now")
    expire.set_defaults(handler=_cmd_tokens_expire)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    add_mapping_folders(getattr(args, "mappings", []))
    try:
        code: int = args.handler(args)
    except CommandLineError as error:
        print(f"unimeter {args.command}: {error}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
