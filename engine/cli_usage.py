"""``unimeter usage``: one query through the HTTP endpoint's own parser and use case, printed on stdout.

The command builds the ``(name, value)`` pairs a query string would carry from ``--param`` (plus ``--format`` as
``truto_response_format``), parses them with :func:`unimeter.api.query.parse_usage_query` and answers them with
:class:`unimeter.api.list_usage.UsageService`, exactly as ``GET /unified/usage-metering/usage`` does: every format,
``truto_*``, ``remote_query[...]``, ``limit`` and ``next_cursor`` mean the same. Only the account differs: the
service reads it from its store, the command builds it in memory from ``--credential`` and ``--context`` (nothing is
written, no store is opened).

Two choices are the command's own. Without ``limit`` (or ``truto_ignore_limit``) it asks for the whole result
(``truto_ignore_limit=true``); piped, that unified body is written page by page from the use case's stream, byte for
byte the endpoint's answer, so memory does not grow with the result and no row cap applies (on a terminal, or keyed
by ``truto_key_by``, it is built whole: at most ``UNIMETER_MAX_RESPONSE_ROWS`` rows). An explicit ``limit`` pages
like the service. And a
shell has no request deadline unless ``UNIMETER_REQUEST_DEADLINE_SECONDS`` sets one: the user can interrupt, and a
long rate-limited range should not fail at two minutes.

A ``next_cursor`` printed by one run must work in the next, so whenever the query can issue or read one, the key
that signs it is :func:`unimeter.api.cursor.load_cursor_key`'s (``UNIMETER_CURSOR_KEY``, else the key file beside the
default database, the one ``unimeter serve`` uses); a query that can do neither never touches that file. The
account's id is an HMAC of the integration, credentials and context under that key: stable across runs, so a cursor
resumes only the same account's query, and it reveals nothing of the credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import math
import os
import secrets
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO
from urllib.parse import quote, urlsplit

import orjson

from .api.cursor import load_cursor_key
from .api.envelope import error_envelope
from .api.limits import DEADLINE_ENV, limits_from_env
from .api.list_usage import UsageService
from .api.query import UsageQuery, parse_usage_query
from .errors import AccountNotFoundError, InvalidParameterError, UnimeterError
from .redaction import account_secrets, redact
from .spec.model import IntegrationSpec
from .spec.registry import load_integration

ENVIRONMENT = "cli"
"""The environment name the use case is called with; the in-memory store has one account, in no real environment."""
_PLACEHOLDER_ID = str(uuid.UUID(int=0))
_BRACKET_SUFFIX = "[]"


class CommandLineError(Exception):
    """The command line itself is wrong (exit 2, nothing sent); the message names the option and the key."""


# ------------------------------------------------------------------------------------------------ KEY=VALUE options


def key_value_items(values: Sequence[str] | None, option: str) -> list[tuple[str, str]]:
    """``KEY=VALUE`` options as pairs, in order, repeats kept (the caller decides what a repeat means)."""
    items = []
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            # A credential or context value may be a secret (one given without its KEY= most of all): not echoed.
            shown = f"{item.split('=')[0]!r}..." if option == "--param" else "no KEY=" if not sep else "an empty KEY"
            raise CommandLineError(f"{option} expects KEY=VALUE, got {shown}")
        items.append((key, value))
    return items


def single_values(values: Sequence[str] | None, option: str) -> dict[str, str]:
    """``KEY=VALUE`` options where a key may appear once: keeping the last of two would silently drop the other."""
    result: dict[str, str] = {}
    for key, value in key_value_items(values, option):
        if key in result:
            raise CommandLineError(f"{option} {key} is given more than once; give each key once")
        result[key] = value
    return result


def _refuse_repeated(spec: IntegrationSpec, name: str, count: int) -> None:
    """A parameter given several times (or as ``name[]``) is a list only where the mapping declares ``list: true``;
    anywhere else keeping one of the values would answer a different question than the one asked."""
    param = spec.params.get(name)
    if param is not None and param.is_list:
        return
    lists = sorted(p.name for p in spec.params.values() if p.is_list)
    which = f"its list parameters are {', '.join(lists)}" if lists else "it has no list parameter"
    what = "takes one value" if param is not None else "has no such parameter"
    given = f"given {count} times" if count > 1 else f"given as a list ({name}[])"
    raise CommandLineError(f"--param {name} is {given}; {spec.name} {what} for {name!r} ({which})")


def integration_params(spec: IntegrationSpec, items: Iterable[tuple[str, str]]) -> dict[str, str | list[str]]:
    """An integration's parameters from ``--param`` pairs (``unimeter record``): a list parameter keeps every
    value, in order (``name=a name=b`` or ``name[]=a``); any other parameter given twice is an error naming it."""
    pairs = [(key.removesuffix(_BRACKET_SUFFIX), key.endswith(_BRACKET_SUFFIX), value) for key, value in items]
    params: dict[str, str | list[str]] = {}
    for name, bracketed, value in pairs:
        if name in params or bracketed:
            _refuse_repeated(spec, name, sum(1 for other, _, _ in pairs if other == name))
            params[name] = [*_as_list(params.get(name)), value]
        else:
            params[name] = value
    return params


def _as_list(value: str | list[str] | None) -> list[str]:
    return [] if value is None else list(value) if isinstance(value, list) else [value]


# ------------------------------------------------------------------------------------------------ the account


@dataclass(frozen=True)
class CommandLineAccount:
    """The account of one run: what ``--credential`` and ``--context`` say, held in memory only."""

    id: str
    integration: str
    credentials: dict[str, Any]
    context: dict[str, Any]
    status: str = "active"
    """Always active: there is no stored status to mark (the use case skips the write when it is unchanged)."""

    def to_public(self) -> dict[str, Any]:
        return {"id": self.id, "integration": self.integration, "status": self.status, "context": {}}


class CommandLineAccounts:
    """The :class:`unimeter.api.list_usage.AccountStore` of one run: one account, no tokens, nothing written."""

    def __init__(self, account: CommandLineAccount) -> None:
        self.account = account

    def resolve_token(self, token: str) -> str | None:
        return None

    def get_account(self, account_id: Any, *, environment: str) -> CommandLineAccount:
        if str(account_id) != self.account.id or environment != ENVIRONMENT:
            raise AccountNotFoundError(f"no account {account_id!r}", account_id=str(account_id))
        return self.account

    def mark_status(self, account_id: Any, *, environment: str, status: Any) -> None:
        """Nothing to record: the account lives for this run only."""


def account_id(key: bytes, integration: str, credentials: dict[str, str], context: dict[str, str]) -> str:
    """A UUID naming this integration, credentials and context under the cursor key (HMAC: it reveals nothing)."""
    canonical = json.dumps([integration, credentials, context], sort_keys=True).encode("utf-8")
    digest = hmac.new(key, canonical, hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


# ------------------------------------------------------------------------------------------------ the query


def query_items(params: list[tuple[str, str]], response_format: str | None) -> list[tuple[str, str]]:
    """The pairs of the endpoint's query string: ``--param`` in order, ``--format`` as ``truto_response_format``,
    and the command's default of the whole result when neither ``limit`` nor ``truto_ignore_limit`` is given."""
    names = {name for name, _ in params}
    if "integrated_account_id" in names:
        raise CommandLineError(
            "--param integrated_account_id is not an option of the CLI: the account is --credential and --context"
        )
    items = list(params)
    if response_format is not None:
        given = [value for name, value in params if name == "truto_response_format"]
        if any(value != response_format for value in given):
            raise CommandLineError(
                f"--format {response_format} and --param truto_response_format={given[0]} disagree; give one"
            )
        if not given:
            items.append(("truto_response_format", response_format))
    if "limit" not in names and "truto_ignore_limit" not in names:
        items.append(("truto_ignore_limit", "true"))
    return items


def parse_query(spec: IntegrationSpec, items: list[tuple[str, str]]) -> UsageQuery:
    """The endpoint's parse of ``items``; its refusals, and a repeated parameter that is not a list, are errors of
    the command line."""
    try:
        query = parse_usage_query([("integrated_account_id", _PLACEHOLDER_ID), *items])
    except InvalidParameterError as error:
        raise CommandLineError(f"--param: {error.message}") from None
    for name, value in query.params.items():
        if isinstance(value, list):
            _refuse_repeated(spec, name, len(value))
    return query


def _needs_stable_key(query: UsageQuery) -> bool:
    """Whether this query may print a ``next_cursor`` (a page, a stream's error line) or read one."""
    return bool(query.next_cursor) or query.response_format == "stream" or not query.ignore_limit


# ------------------------------------------------------------------------------------------------ output


def dump(data: Any, *, pretty: bool) -> str:
    """JSON compact (as the service's stream writes it: orjson, UTF-8) or indented for a person. An integer orjson
    cannot hold (past 64 bits, which a vendor id might be) falls back to the standard library, same text."""
    try:
        return orjson.dumps(data, option=orjson.OPT_INDENT_2 if pretty else 0).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        if pretty:
            return json.dumps(data, indent=2, ensure_ascii=False)
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _prints_as_it_goes(query: UsageQuery) -> bool:
    """The command's default query (the whole unified result, no page size, no keying) is printed page by page."""
    return query.response_format == "unified" and query.ignore_limit and not query.key_by and not query.skip_api_call


def _binary(stream: TextIO) -> Any:
    """A writer of bytes to ``stream``: its binary buffer when it has one (a real stdout), else text (a test's)."""
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        return buffer.write
    return lambda data: stream.write(data.decode("utf-8"))


def choose_pretty(choice: bool | None, stream: TextIO) -> bool:
    """``--pretty``/``--compact`` when given, else indented exactly when ``stream`` is a terminal."""
    if choice is not None:
        return choice
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@dataclass
class UsageCommand:
    """One ``unimeter usage`` run, from its parsed options."""

    integration: str
    credentials: list[str] | None
    context: list[str] | None
    params: list[str] | None
    response_format: str | None
    now: datetime | None
    pretty: bool | None

    def run(self) -> int:
        """Exit status: 0 printed, 1 the query failed (envelope on stderr, or a stream's error line), 2 bad input."""
        credentials = single_values(self.credentials, "--credential")
        context = single_values(self.context, "--context")
        items = query_items(key_value_items(self.params, "--param"), self.response_format)
        try:
            spec = load_integration(self.integration)
        except UnimeterError as error:
            return self._failed(error, ())
        query = parse_query(spec, items)
        hidden = (*account_secrets(spec, credentials, context), *_url_passwords(context))
        key = load_cursor_key() if _needs_stable_key(query) else secrets.token_bytes(32)
        account = CommandLineAccount(account_id(key, spec.name, credentials, context), spec.name, credentials, context)
        query = dataclasses.replace(query, account_id=account.id)
        try:
            limits = limits_from_env()
        except UnimeterError as error:
            return self._failed(error, hidden)
        if not os.environ.get(DEADLINE_ENV, "").strip():
            limits = dataclasses.replace(limits, deadline_seconds=math.inf)
        service = UsageService(CommandLineAccounts(account), key, now=self.now, limits=limits, stream_concurrency=None)
        _quiet_service_log()
        try:
            return asyncio.run(self._answer(service, query, hidden))
        except UnimeterError as error:
            return self._failed(error, hidden)
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as a shell tool killed by SIGPIPE would (status 141);
            # stdout goes to devnull so the interpreter's final flush does not raise again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 141

    async def _answer(self, service: UsageService, query: UsageQuery, hidden: tuple[str, ...]) -> int:
        try:
            if _prints_as_it_goes(query) and not choose_pretty(self.pretty, sys.stdout):
                return await self._unified_as_it_goes(service, query, hidden)
            response = await service.list_usage(query, environment=ENVIRONMENT)
            if response.stream is None:
                print(dump(response.body, pretty=choose_pretty(self.pretty, sys.stdout)))
                return 0
            failed = False
            async for chunk in response.stream:
                # Rows as they come, one NDJSON line each; the last line is {"end": ...} or {"error": ...}.
                failed = chunk.startswith(b'{"error"')
                sys.stdout.write(chunk.decode("utf-8"))
                sys.stdout.flush()
            return 1 if failed else 0
        finally:
            await service.aclose()

    async def _unified_as_it_goes(self, service: UsageService, query: UsageQuery, hidden: tuple[str, ...]) -> int:
        """The whole unified result, byte for byte what the endpoint answers, written page by page from the use
        case's stream: memory stays at the pages in flight however large the result, and no row cap applies.

        Should the vendor fail part-way, the document on stdout stays unfinished (no closing ``]}``: no JSON reader
        takes it for a complete result), the error envelope goes to stderr and the status is 1."""
        response = await service.list_usage(
            dataclasses.replace(query, response_format="stream"), environment=ENVIRONMENT
        )
        assert response.stream is not None
        out = _binary(sys.stdout)
        out(b'{"result":[')
        first = True
        async for chunk in response.stream:
            if chunk.startswith((b'{"end"', b'{"error"')):
                last = json.loads(chunk)
                if "error" in last:
                    sys.stdout.flush()
                    print(dump(redact(last["error"], hidden), pretty=False), file=sys.stderr)
                    return 1
                continue
            rows = chunk.rstrip(b"\n")
            if not rows:
                continue
            # orjson escapes newlines inside strings, so the NDJSON separators are exactly the rows' boundaries.
            out((b"" if first else b",") + rows.replace(b"\n", b","))
            first = False
        out(b'],"next_cursor":null}\n')
        sys.stdout.flush()
        return 0

    def _failed(self, error: UnimeterError, hidden: Iterable[str]) -> int:
        envelope = redact(error_envelope(error), hidden)
        print(dump(envelope, pretty=choose_pretty(self.pretty, sys.stderr)), file=sys.stderr)
        return 1


def _url_passwords(context: dict[str, str]) -> list[str]:
    """Passwords written into a context URL (``https://user:pw@host``): refused, but the refusal quotes the URL."""
    found = []
    for value in context.values():
        with contextlib.suppress(ValueError):
            if password := urlsplit(value).password:
                found += [password, quote(password, safe="")]
    return found


def _quiet_service_log() -> None:
    """The service logs a failed vendor query as a warning line; here the envelope on stderr already says it, and
    a log line in front of it would stop stderr being one JSON document."""
    logger = logging.getLogger("unimeter")
    if not logger.handlers and not logging.getLogger().handlers:
        logger.addHandler(logging.NullHandler())
