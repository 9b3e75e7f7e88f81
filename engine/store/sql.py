"""Integrated accounts and API tokens, kept in SQLite or PostgreSQL behind one :class:`Store` protocol.

An integrated account is one customer's connection to one integration in one environment: which mapping, its
credentials (sealed by :mod:`unimeter.store.secrets` before they reach the database), its context, and whether it
still works (``needs_reauth`` once the vendor rejected its credentials). Every read and write names the environment,
and an account of another environment is reported exactly like a missing one, so a token of one environment cannot
probe the ids of another.

:func:`open_store` picks the backend from one URL (``--database`` or ``UNIMETER_DATABASE_URL``):
``sqlite:///ABSOLUTE/PATH.db`` for one machine (default: ``<data dir>/unimeter.db``), ``postgresql://...`` for several
service instances sharing one store. Each operation runs in its own connection and transaction, so one store object
is safe to share between threads; the price is one connection per operation, which a pool can remove later.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import re
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from ..errors import (
    AccountNotFoundError,
    ApiTokenError,
    ConfigurationError,
    IdempotencyKeyReusedError,
    InvalidParameterError,
    StoreError,
    TokenNotFoundError,
    UnknownIntegrationError,
)
from ..redaction import redact_url
from ..resources import data_dir
from ..run.accounts import resolve_context, resolve_credentials
from ..run.destination import check_base_url, destination_fields
from ..run.ratelimit import next_slot
from ..run.request import resolve_base_url
from ..spec import available_integrations, load_integration
from ..spec.scope import Scope
from .model import (
    ACCOUNT_STATUSES,
    TIME_FORMAT,
    Account,
    AccountStatus,
    ApiToken,
    Store,
    UnreadableAccount,
    show_time,
)
from .secrets import SecretBox, hash_api_token, load_secret_box, new_api_token

DATABASE_URL_ENV = "UNIMETER_DATABASE_URL"
_ENVIRONMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def database_url(explicit: str | None = None) -> str:
    """``explicit``, else ``UNIMETER_DATABASE_URL``, else the SQLite file in the user's data dir."""
    return explicit or os.environ.get(DATABASE_URL_ENV) or f"sqlite://{data_dir() / 'unimeter.db'}"


def open_store(url: str | None = None, *, key_file: Path | None = None) -> Store:
    """The store at ``url`` (see :func:`database_url`), its tables created if missing."""
    url = database_url(url)
    scheme = url.partition(":")[0]
    store: _SqlStore
    if scheme == "sqlite":
        store = SqliteStore(_sqlite_path(url), load_secret_box(key_file))
    elif scheme in {"postgresql", "postgres"}:
        store = PostgresStore(url, load_secret_box(key_file))
    else:
        raise ConfigurationError(
            f"unsupported database URL {redact_url(url)!r}: expected sqlite:///ABSOLUTE/PATH.db or postgresql://...",
            field="database",
        )
    store.create_schema()
    return store


def _sqlite_path(url: str) -> Path:
    path = url.removeprefix("sqlite://")
    if not path.startswith("/"):
        raise ConfigurationError(
            f"SQLite URL {url!r} needs an absolute path: sqlite:///ABSOLUTE/PATH.db", field="database"
        )
    return Path(path)


_Run = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
_TOKEN_COLUMNS = "token_hash, environment, name, created_at, expires_at, revoked_at"
_ADDED_TOKEN_COLUMNS = ("name", "expires_at", "revoked_at")
"""Columns that stores made before token expiry and revocation lack; :meth:`_SqlStore.create_schema` adds them."""
TOKEN_ID_PREFIX = "tok_"
_TOKEN_ID = re.compile(r"tok_[0-9a-f]{16}")
_TOKEN_BY_ID = "environment = ? AND substr(token_hash, 1, 16) = ?"
"""A token named by its id (the first 16 hex digits of its hash) within one environment."""
_COLUMNS = "id, integration, environment, credentials, context, status, created_at, updated_at"
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS unimeter_accounts (
        id TEXT PRIMARY KEY, integration TEXT NOT NULL, environment TEXT NOT NULL, credentials TEXT NOT NULL,
        context TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS unimeter_accounts_environment ON unimeter_accounts (environment, created_at)",
    """CREATE TABLE IF NOT EXISTS unimeter_api_tokens (
        token_hash TEXT PRIMARY KEY, environment TEXT NOT NULL, created_at TEXT NOT NULL,
        name TEXT, expires_at TEXT, revoked_at TEXT)""",
    # One row per vendor request booked under a rate budget (an account's), at the instant it may be sent.
    "CREATE TABLE IF NOT EXISTS unimeter_rate_slots (budget TEXT NOT NULL, sent_at DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX IF NOT EXISTS unimeter_rate_slots_budget ON unimeter_rate_slots (budget, sent_at)",
    # The first answer to a POST that carried an Idempotency-Key, replayed to its retries for a day.
    """CREATE TABLE IF NOT EXISTS unimeter_idempotency_keys (
        environment TEXT NOT NULL, idempotency_key TEXT NOT NULL, fingerprint TEXT NOT NULL, response TEXT NOT NULL,
        created_at TEXT NOT NULL, PRIMARY KEY (environment, idempotency_key))""",
)
IDEMPOTENCY_HOURS = 24
"""How long an Idempotency-Key is remembered (as Stripe and the IETF draft suggest: long enough for any retry)."""


class _SqlStore(ABC):
    """The store's logic over plain SQL; a backend supplies transactions and its row-lock clause.

    SQL is written with ``?`` placeholders; credentials are sealed before any statement sees them.
    """

    _for_update = ""

    def __init__(self, box: SecretBox) -> None:
        self._box = box

    @abstractmethod
    def _transaction(self, *, write: bool = True) -> AbstractContextManager[_Run]:
        """A connection in one transaction: committed when the block ends, rolled back when it raises. A read
        (``write=False``) takes no write lock, so the reads of concurrent requests do not queue behind each other."""

    @abstractmethod
    def _lock(self, run: _Run, name: str) -> float:
        """Serialise transactions that lock ``name`` (a rate budget, an idempotency key) until this one ends; the
        store's clock now, in epoch seconds."""

    def create_schema(self) -> None:
        """Create the tables under the backend's lock: concurrent ``CREATE TABLE IF NOT EXISTS`` can collide."""
        with self._transaction() as run:
            self._lock(run, "schema")
            for statement in _SCHEMA:
                run(statement, ())
            self._add_token_columns(run)

    def _add_token_columns(self, run: _Run) -> None:
        present = self._columns(run, "unimeter_api_tokens")
        for column in _ADDED_TOKEN_COLUMNS:
            if column not in present:
                run(f"ALTER TABLE unimeter_api_tokens ADD COLUMN {column} TEXT", ())

    @abstractmethod
    def _columns(self, run: _Run, table: str) -> set[str]:
        """The column names of ``table``."""

    def check(self) -> None:
        """Reach the database (for ``/health``); StoreError when it cannot be reached or read."""
        with self._transaction(write=False) as run:
            run("SELECT 1", ())

    def create_account(
        self,
        integration: str,
        *,
        environment: str,
        credentials: Mapping[str, Any],
        context: Mapping[str, Any] | None = None,
    ) -> Account:
        account = _new_account(integration, environment, credentials, context)
        with self._transaction() as run:
            self._insert(run, account)
        return account

    def _insert(self, run: _Run, account: Account) -> None:
        run(f"INSERT INTO unimeter_accounts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", self._row(account))

    def create_account_once(
        self,
        integration: str,
        *,
        environment: str,
        credentials: Mapping[str, Any],
        context: Mapping[str, Any] | None,
        idempotency_key: str,
        fingerprint: str,
    ) -> tuple[dict[str, Any], bool]:
        """Create an account at most once per ``idempotency_key`` (per environment, for a day): the public account
        and False, or, for a retry of the same request, the first answer and True.

        ``fingerprint`` identifies the request body (the caller hashes it); it is sealed like credentials, because a
        body holds them. A different body under a key already used is refused (IETF draft "The Idempotency-Key HTTP
        Header Field": 422). Concurrent requests with one key wait for each other (the row lock of ``_lock``), so only
        one account is ever made.
        """
        _check_idempotency_key(idempotency_key)
        bound_to = f"idempotency key {environment}/{idempotency_key}"
        with self._transaction() as run:
            now = datetime.now(UTC)
            self._lock(run, f"idempotency:{environment}:{idempotency_key}")
            forgotten = show_time(now - timedelta(hours=IDEMPOTENCY_HOURS))
            run(
                "DELETE FROM unimeter_idempotency_keys WHERE environment = ? AND created_at < ?",
                (environment, forgotten),
            )
            rows = run(
                "SELECT fingerprint, response FROM unimeter_idempotency_keys WHERE environment = ? AND "
                "idempotency_key = ?",
                (environment, idempotency_key),
            )
            if rows:
                stored = self._box.open(str(rows[0][0]), bound_to=bound_to).get("fingerprint")
                if not isinstance(stored, str) or not hmac.compare_digest(stored, fingerprint):
                    raise IdempotencyKeyReusedError(
                        f"Idempotency-Key {idempotency_key!r} was used for a different request in the last "
                        f"{IDEMPOTENCY_HOURS} hours: send a new key for a new request",
                        parameter="Idempotency-Key",
                    )
                return _strict_json(str(rows[0][1])), True
            account = _new_account(integration, environment, credentials, context)
            public = account.to_public()
            self._insert(run, account)
            run(
                "INSERT INTO unimeter_idempotency_keys "
                "(environment, idempotency_key, fingerprint, response, created_at) VALUES (?, ?, ?, ?, ?)",
                (
                    environment,
                    idempotency_key,
                    self._box.seal({"fingerprint": fingerprint}, bound_to=bound_to),
                    json.dumps(public, sort_keys=True),
                    show_time(now),
                ),
            )
        return public, False

    def list_accounts(self, environment: str | None = None) -> list[Account | UnreadableAccount]:
        where, params = ("WHERE environment = ?", (environment,)) if environment is not None else ("", ())
        with self._transaction(write=False) as run:
            rows = run(f"SELECT {_COLUMNS} FROM unimeter_accounts {where} ORDER BY created_at, id", params)
        return [self._listed(row) for row in rows]

    def _listed(self, row: tuple[Any, ...]) -> Account | UnreadableAccount:
        """One row of a listing: an account that cannot be read (a rotated-away key, a corrupt value) is shown as
        unreadable with the reason, and never breaks the listing of the others."""
        try:
            return self._account(row)
        except (StoreError, ValueError, TypeError) as error:
            return UnreadableAccount(
                id=str(row[0]),
                integration=str(row[1]),
                environment=str(row[2]),
                error=str(error) if isinstance(error, StoreError) else "a stored value is corrupt",
            )

    def get_account(self, account_id: UUID | str, *, environment: str) -> Account:
        with self._transaction(write=False) as run:
            return self._fetch(run, account_id, environment)

    def update_account(
        self,
        account_id: UUID | str,
        *,
        environment: str,
        credentials: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        status: AccountStatus | None = None,
    ) -> Account:
        """Replace the given parts. New credentials make the account ``active`` again unless ``status`` says
        otherwise, because replacing rejected credentials is how a ``needs_reauth`` account is repaired."""
        if status is not None and status not in ACCOUNT_STATUSES:
            raise ConfigurationError(
                f"invalid status {status!r}: expected one of {', '.join(ACCOUNT_STATUSES)}", field="status"
            )
        with self._transaction() as run:
            current = self._fetch(run, account_id, environment, lock=True)
            new_credentials = dict(current.credentials if credentials is None else credentials)
            new_context = dict(current.context if context is None else context)
            if credentials is None and context is not None:
                _require_credentials_for_a_new_destination(current, new_context)
            if credentials is not None or context is not None:
                _validate(current.integration, new_credentials, new_context)
            new_status = status or ("active" if credentials is not None else current.status)
            updated = Account(
                id=current.id,
                integration=current.integration,
                environment=current.environment,
                credentials=new_credentials,
                context=new_context,
                status=new_status,
                created_at=current.created_at,
                updated_at=datetime.now(UTC),
            )
            row = self._row(updated)
            run(
                "UPDATE unimeter_accounts SET credentials = ?, context = ?, status = ?, updated_at = ? WHERE id = ?",
                (row[3], row[4], row[5], row[7], row[0]),
            )
        return updated

    def mark_status(self, account_id: UUID | str, *, environment: str, status: AccountStatus) -> Account:
        """Record what the vendor said about the credentials (``needs_reauth`` after a 401/403)."""
        return self.update_account(account_id, environment=environment, status=status)

    def delete_account(self, account_id: UUID | str, *, environment: str) -> None:
        key = _account_key(account_id, environment)
        with self._transaction() as run:
            deleted = run(
                "DELETE FROM unimeter_accounts WHERE id = ? AND environment = ? RETURNING id", (str(key), environment)
            )
        if not deleted:
            raise _not_found(account_id, environment)

    def create_token(self, *, environment: str, name: str | None = None, expires_at: datetime | None = None) -> str:
        """A new API token of ``environment`` (see :meth:`issue_token`)."""
        return self.issue_token(environment=environment, name=name, expires_at=expires_at)[0]

    def issue_token(
        self, *, environment: str, name: str | None = None, expires_at: datetime | None = None
    ) -> tuple[str, ApiToken]:
        """A new API token and what is kept of it: only its hash, its environment, an optional name and expiry."""
        _check_environment(environment)
        _check_token_name(name)
        now = datetime.now(UTC)
        _check_expiry(expires_at, now)
        token = new_api_token()
        token_hash = hash_api_token(token)
        record = ApiToken(_token_id(token_hash), environment, name, now, expires_at, None)
        with self._transaction() as run:
            run(
                f"INSERT INTO unimeter_api_tokens ({_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (token_hash, environment, name, show_time(now), show_time(expires_at), None),
            )
        return token, record

    def list_tokens(self, environment: str | None = None) -> list[ApiToken]:
        where, params = ("WHERE environment = ?", (environment,)) if environment is not None else ("", ())
        with self._transaction(write=False) as run:
            rows = run(f"SELECT {_TOKEN_COLUMNS} FROM unimeter_api_tokens {where} ORDER BY created_at", params)
        return [_token(row) for row in rows]

    def revoke_token(self, token_id: str, *, environment: str) -> ApiToken:
        """End a token now; revoking a revoked token changes nothing."""
        with self._transaction() as run:
            current = self._fetch_token(run, token_id, environment)
            if current.revoked_at is not None:
                return current
            revoked_at = datetime.now(UTC)
            _set_token_time(run, token_id, environment, "revoked_at", revoked_at)
        return replace(current, revoked_at=revoked_at)

    def set_token_expiry(
        self, token_id: str, *, environment: str, expires_at: datetime, only_earlier: bool = False
    ) -> ApiToken:
        """Give a token an expiry. ``only_earlier`` (the HTTP API, where a token manages its own environment's
        tokens) refuses to extend or remove one: a leaked token must not be able to keep itself alive."""
        now = datetime.now(UTC)
        _check_expiry(expires_at, now)
        with self._transaction() as run:
            current = self._fetch_token(run, token_id, environment)
            if only_earlier and current.expires_at is not None and expires_at > current.expires_at:
                raise InvalidParameterError(
                    f"token {token_id} expires at {show_time(current.expires_at)}; through the API an expiry can only "
                    "be brought forward (the operator's CLI can extend it)",
                    parameter="expires_at",
                )
            _set_token_time(run, token_id, environment, "expires_at", expires_at)
        return replace(current, expires_at=expires_at)

    def _fetch_token(self, run: _Run, token_id: str, environment: str) -> ApiToken:
        if not isinstance(token_id, str) or not _TOKEN_ID.fullmatch(token_id):
            raise TokenNotFoundError(
                f"no token {token_id!r} in environment {environment!r}: token ids look like tok_<16 hex digits>"
            )
        rows = run(
            f"SELECT {_TOKEN_COLUMNS} FROM unimeter_api_tokens WHERE {_TOKEN_BY_ID}",
            (environment, token_id.removeprefix(TOKEN_ID_PREFIX)),
        )
        if not rows:
            raise TokenNotFoundError(f"no token {token_id!r} in environment {environment!r}")
        return _token(rows[0])

    def resolve_token(self, token: str) -> str | None:
        """The environment of ``token``; ``None`` when it is unknown; :class:`ApiTokenError` saying so when it was
        revoked or has expired (its holder knew the token, so telling them why costs nothing)."""
        with self._transaction(write=False) as run:
            rows = run(
                f"SELECT {_TOKEN_COLUMNS} FROM unimeter_api_tokens WHERE token_hash = ?", (hash_api_token(token),)
            )
        if not rows:
            return None
        record = _token(rows[0])
        status = record.status(datetime.now(UTC))
        if status == "revoked":
            raise ApiTokenError(f"the API token {record.id} was revoked", token_id=record.id)
        if status == "expired":
            raise ApiTokenError(
                f"the API token {record.id} expired at {show_time(record.expires_at)}", token_id=record.id
            )
        return record.environment

    def reserve_rate_slot(self, budget: str, *, requests: int, per_seconds: float) -> float:
        """Book the next request of ``budget`` (at most ``requests`` in any ``per_seconds``): seconds to wait.

        The in-process limiter's sliding window (:func:`unimeter.run.ratelimit.next_slot`), booked in one transaction
        so that every instance on this store shares it: slots older than the window are dropped, and only the last
        ``requests`` of the others matter.
        """
        with self._transaction() as run:
            now = self._lock(run, budget)
            run("DELETE FROM unimeter_rate_slots WHERE budget = ? AND sent_at <= ?", (budget, now - per_seconds))
            latest = run(
                "SELECT sent_at FROM unimeter_rate_slots WHERE budget = ? ORDER BY sent_at DESC LIMIT ?",
                (budget, requests),
            )
            start = next_slot([float(row[0]) for row in reversed(latest)], now, requests, per_seconds)
            run("INSERT INTO unimeter_rate_slots (budget, sent_at) VALUES (?, ?)", (budget, start))
        return start - now

    def _fetch(self, run: _Run, account_id: UUID | str, environment: str, *, lock: bool = False) -> Account:
        key = _account_key(account_id, environment)
        rows = run(
            f"SELECT {_COLUMNS} FROM unimeter_accounts WHERE id = ? AND environment = ?"
            f"{self._for_update if lock else ''}",
            (str(key), environment),
        )
        if not rows:
            raise _not_found(account_id, environment)
        return self._account(rows[0])

    def _row(self, account: Account) -> tuple[str, ...]:
        return (
            str(account.id),
            account.integration,
            account.environment,
            self._box.seal(account.credentials, bound_to=f"account {account.id}"),
            json.dumps(account.context, sort_keys=True),
            account.status,
            account.created_at.strftime(TIME_FORMAT),
            account.updated_at.strftime(TIME_FORMAT),
        )

    def _account(self, row: tuple[Any, ...]) -> Account:
        account_id, integration, environment, sealed, context, status, created_at, updated_at = row
        return Account(
            id=UUID(account_id),
            integration=integration,
            environment=environment,
            credentials=self._box.open(sealed, bound_to=f"account {account_id}"),
            context=_strict_json(context),
            status=status,
            created_at=_parse_time(created_at),
            updated_at=_parse_time(updated_at),
        )


class SqliteStore(_SqlStore):
    """One SQLite file (stdlib ``sqlite3``), created with mode 0600 in a 0700 directory if missing.

    Each thread keeps one connection to it: opening one per operation cost more than the operation, and a service
    runs its store calls on a bounded pool of threads. A connection that failed is dropped, so the next call opens
    a fresh one.
    """

    def __init__(self, path: Path, box: SecretBox) -> None:
        super().__init__(box)
        self.path = path
        self._connections = threading.local()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    def create_schema(self) -> None:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        # Write-ahead logging: readers never wait for a writer nor a writer for readers, which a service answering
        # many requests at once needs (with the default journal, 40 threads reading saw a p99 of 430 ms, all of it
        # SQLite's busy-wait backoff). The mode is kept in the file; the -wal and -shm files take its permissions.
        connection = self._connection()
        try:
            connection.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as error:
            self._drop(connection)
            raise StoreError(f"cannot open the SQLite store {self.path}: {error}") from None
        super().create_schema()

    def _columns(self, run: _Run, table: str) -> set[str]:
        return {str(row[1]) for row in run(f"PRAGMA table_info({table})", ())}

    def _lock(self, run: _Run, name: str) -> float:
        """``BEGIN IMMEDIATE`` already holds the file's write lock; one machine, so its clock is everyone's."""
        return time.time()

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        connection: sqlite3.Connection | None = getattr(self._connections, "connection", None)
        if connection is None:
            try:
                connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            except sqlite3.Error as error:
                raise StoreError(f"cannot open the SQLite store {self.path}: {error}") from None
            self._connections.connection = connection
        return connection

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[_Run]:
        connection = self._connection()
        try:
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield lambda sql, params: connection.execute(sql, params).fetchall()
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            self._drop(connection)
            raise StoreError(f"SQLite store {self.path}: {error}") from None
        except BaseException:
            if connection.in_transaction:
                connection.rollback()
            raise

    def _drop(self, connection: sqlite3.Connection) -> None:
        self._connections.connection = None
        with contextlib.suppress(sqlite3.Error):
            connection.rollback()
        with contextlib.suppress(sqlite3.Error):
            connection.close()


class PostgresStore(_SqlStore):
    """A PostgreSQL database (psycopg 3) that several service instances can share."""

    _for_update = " FOR UPDATE"

    def __init__(self, url: str, box: SecretBox) -> None:
        super().__init__(box)
        self._url = url

    def __repr__(self) -> str:
        return f"PostgresStore({redact_url(self._url)!r})"

    def _columns(self, run: _Run, table: str) -> set[str]:
        rows = run("SELECT column_name FROM information_schema.columns WHERE table_name = ?", (table,))
        return {str(row[0]) for row in rows}

    def _lock(self, run: _Run, name: str) -> float:
        """A transaction advisory lock on ``name``, and the database's clock, which every instance shares whatever
        their own clocks say."""
        run("SELECT pg_advisory_xact_lock(72026112, hashtext(?))", (name,))
        return float(run("SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8", ())[0][0])

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[_Run]:
        import psycopg  # imported here so that commands without a PostgreSQL store do not pay for it

        try:
            connection = psycopg.connect(self._url, connect_timeout=10)
        except psycopg.Error as error:
            raise StoreError(f"cannot connect to the PostgreSQL store {redact_url(self._url)}: {error}") from None

        def run(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
            cursor = connection.execute(sql.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description is not None else []

        try:
            with connection, connection.transaction():
                yield run
        except psycopg.Error as error:
            raise StoreError(f"PostgreSQL store {redact_url(self._url)}: {error}") from None


def _validate(integration: str, credentials: Mapping[str, Any], context: Mapping[str, Any]) -> None:
    """Check the account against the fields its integration declares; messages name fields, never secrets."""
    if integration not in available_integrations():
        raise UnknownIntegrationError(
            f"no integration named {integration!r}; available: {', '.join(available_integrations())}",
            field="integration",
        )
    spec = load_integration(integration)
    resolve_credentials(spec, credentials)
    resolved = resolve_context(spec, context)
    check_base_url(resolve_base_url(spec, Scope(context=resolved)), spec)


def _require_credentials_for_a_new_destination(current: Account, context: Mapping[str, Any]) -> None:
    """Credentials never follow a change of where they are sent: such a change must bring them again."""
    spec = load_integration(current.integration)
    changed = sorted(name for name in destination_fields(spec) if current.context.get(name) != context.get(name))
    if changed:
        raise ConfigurationError(
            f"changing {', '.join(changed)} changes where {spec.name} sends the account's credentials: send the "
            "credentials again in the same request",
            field=changed[0],
        )


def _new_account(
    integration: str, environment: str, credentials: Mapping[str, Any], context: Mapping[str, Any] | None
) -> Account:
    """A new, checked, active account (not yet stored)."""
    _check_environment(environment)
    _validate(integration, credentials, context or {})
    now = datetime.now(UTC)
    return Account(
        id=uuid4(),
        integration=integration,
        environment=environment,
        credentials=dict(credentials),
        context=dict(context or {}),
        status="active",
        created_at=now,
        updated_at=now,
    )


_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def _check_idempotency_key(key: str) -> None:
    if not isinstance(key, str) or not _IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidParameterError(
            "an Idempotency-Key is 1-255 visible ASCII characters (a UUID is a good one)", parameter="Idempotency-Key"
        )


def _set_token_time(run: _Run, token_id: str, environment: str, column: str, moment: datetime) -> None:
    """Set ``column`` (``revoked_at`` or ``expires_at``) of the token found by :meth:`_SqlStore._fetch_token`."""
    run(
        f"UPDATE unimeter_api_tokens SET {column} = ? WHERE {_TOKEN_BY_ID}",
        (show_time(moment), environment, token_id.removeprefix(TOKEN_ID_PREFIX)),
    )


def _token_id(token_hash: str) -> str:
    return TOKEN_ID_PREFIX + token_hash[:16]


def _token(row: tuple[Any, ...]) -> ApiToken:
    token_hash, environment, name, created_at, expires_at, revoked_at = row
    return ApiToken(
        id=_token_id(str(token_hash)),
        environment=str(environment),
        name=name,
        created_at=_parse_time(created_at),
        expires_at=None if expires_at is None else _parse_time(expires_at),
        revoked_at=None if revoked_at is None else _parse_time(revoked_at),
    )


def _check_token_name(name: str | None) -> None:
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 200):
        raise InvalidParameterError("a token name is a string of 1-200 characters", parameter="name")


def _check_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is None:
        return
    if not isinstance(expires_at, datetime) or expires_at.tzinfo is None:
        raise InvalidParameterError("expires_at needs a time zone (e.g. 2027-01-01T00:00:00Z)", parameter="expires_at")
    if expires_at <= now:
        raise InvalidParameterError(
            f"expires_at {show_time(expires_at)} is not in the future; to end a token now, revoke it",
            parameter="expires_at",
        )


def _check_environment(environment: str) -> None:
    if not isinstance(environment, str) or not _ENVIRONMENT_NAME.fullmatch(environment):
        raise ConfigurationError(
            "an environment name is 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit",
            field="environment",
        )


def _account_key(account_id: UUID | str, environment: str) -> UUID:
    """``account_id`` as a UUID; a malformed id is reported like a missing account."""
    if isinstance(account_id, UUID):
        return account_id
    try:
        return UUID(account_id)
    except (ValueError, TypeError, AttributeError):
        raise _not_found(account_id, environment) from None


def _not_found(account_id: UUID | str, environment: str) -> AccountNotFoundError:
    return AccountNotFoundError(
        f"no account {str(account_id)!r} in environment {environment!r}",
        account_id=str(account_id),
        environment=environment,
    )


def _strict_json(text: str) -> Any:
    """A stored JSON value; NaN or Infinity (which no JSON response can carry) make the row unreadable."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    return json.loads(text, parse_constant=refuse)


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)
