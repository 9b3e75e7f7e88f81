"""A sync destination by name, and a read-only connection to it.

``unimeter sync --to`` writes one, ``unimeter export focus --from`` and the dashboard of ``unimeter serve`` read one:
all three name it the same way (a DuckDB file, ``PATH.duckdb`` / ``PATH.db`` / ``duckdb:///ABSOLUTE/PATH``, or a
``postgresql://`` URL) and show it the same way in messages (a URL never with its password). Reading goes through
the database's own driver, not dlt, so a reader pays no dlt import and holds no dlt state.

A DuckDB file admits one writing process and, while it writes, no reader in another process: readers here open the
file read-only for one query's time and close it at once, so a reader never keeps a sync from writing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import UnimeterError
from .redaction import redact_text, redact_url
from .resources import data_dir

SCHEMA = "unimeter"
"""The schema (PostgreSQL) or DuckDB schema a sync writes its tables in."""
DEFAULT_FILE = "usage.duckdb"
SYNC_URL_ENV = "UNIMETER_SYNC_URL"
"""Names the destination the service's dashboard reads when ``unimeter serve --sync-to`` does not."""


@dataclass(frozen=True)
class SyncedDatabase:
    """A sync destination: ``kind`` is ``duckdb`` (``target`` a file path) or ``postgres`` (``target`` a URL)."""

    kind: str
    target: str

    @property
    def dialect(self) -> str:
        return self.kind

    @property
    def shown(self) -> str:
        """As messages show it: the path, or the URL without its password."""
        return self.target if self.kind == "duckdb" else redact_url(self.target)

    @property
    def secrets(self) -> tuple[str, ...]:
        return url_password(self.target) if self.kind == "postgres" else ()


def url_password(text: str) -> tuple[str, ...]:
    """The password of a URL-like ``text``, for redaction; none when it has none or does not parse."""
    with contextlib.suppress(ValueError):
        password = urlsplit(text).password
        if password:
            return (password,)
    return ()


def parse_synced_database(text: str, *, option: str) -> SyncedDatabase:
    """A DuckDB file or a PostgreSQL URL; a ValueError naming ``option`` and what is accepted otherwise."""
    if text.startswith(("postgresql://", "postgres://")):
        return SyncedDatabase("postgres", text)
    if text.startswith("duckdb:///"):
        return SyncedDatabase("duckdb", "/" + text.removeprefix("duckdb:///").lstrip("/"))
    if "://" not in text and text.endswith((".duckdb", ".db")):
        return SyncedDatabase("duckdb", str(Path(text).expanduser().resolve()))
    raise ValueError(
        f"{option} {redact_text(text, url_password(text))!r} is not a sync destination: give a DuckDB file "
        "(PATH.duckdb or duckdb:///ABSOLUTE/PATH) or a PostgreSQL URL (postgresql://user@host/db)"
    )


def sync_dir() -> Path:
    """Where a sync keeps dlt's folders and, by default, the DuckDB file: ``<data dir>/sync``."""
    return data_dir() / "sync"


def default_synced_database() -> SyncedDatabase:
    """The DuckDB file a sync writes when no ``--to`` is given: ``usage.duckdb`` in the data directory's ``sync/``."""
    return SyncedDatabase("duckdb", str(sync_dir() / DEFAULT_FILE))


def synced_database_from(text: str | None, *, option: str) -> SyncedDatabase:
    """``text`` parsed (see :func:`parse_synced_database`), else ``$UNIMETER_SYNC_URL``, else the default file."""
    chosen = text or os.environ.get(SYNC_URL_ENV) or ""
    if not chosen:
        return default_synced_database()
    return parse_synced_database(chosen, option=option if text else SYNC_URL_ENV)


class SyncedReader:
    """One read-only connection to a synced database, DuckDB or PostgreSQL, behind the few calls readers need.

    Queries take ``?`` placeholders on both databases (rewritten to ``%s`` for psycopg), so one SQL text serves both.
    """

    def __init__(self, database: SyncedDatabase) -> None:
        self.database = database
        if database.kind == "duckdb":
            import duckdb

            self.connection: Any = duckdb.connect(database.target, read_only=True)
            self.cursor: Any = self.connection
        else:
            import psycopg

            self.connection = psycopg.connect(database.target, connect_timeout=10)
            self.connection.read_only = True
            self.cursor = self.connection.cursor()

    def _sql(self, query: str) -> str:
        return query.replace("?", "%s") if self.database.kind == "postgres" else query

    def tables(self, schema: str = SCHEMA) -> set[str]:
        """The tables and views of ``schema``."""
        query = "SELECT table_name FROM information_schema.tables WHERE table_schema = ?"
        self.cursor.execute(self._sql(query), [schema])
        return {str(name) for (name,) in self.cursor.fetchall()}

    def execute(self, query: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and every row of one query."""
        self.cursor.execute(self._sql(query), list(params))
        names = [column[0] for column in self.cursor.description]
        return names, [tuple(row) for row in self.cursor.fetchall()]

    def batches(self, query: str, params: Sequence[Any] = (), size: int = 10_000) -> Iterator[list[Any]]:
        """The rows of one query, ``size`` at a time."""
        self.cursor.execute(self._sql(query), list(params))
        while batch := self.cursor.fetchmany(size):
            yield batch

    def close(self) -> None:
        self.connection.close()


@contextlib.contextmanager
def reading(database: SyncedDatabase, error: type[Exception], doing: str) -> Iterator[SyncedReader]:
    """A :class:`SyncedReader` for the block; a driver's failure becomes ``error("<doing> <database>: <cause>")``,
    the cause's first line without any password. A missing DuckDB file says to run a sync first."""
    if database.kind == "duckdb" and not Path(database.target).is_file():
        raise error(f"{doing} {database.shown}: no such DuckDB file (run unimeter sync first)")
    reader: SyncedReader | None = None
    try:
        reader = SyncedReader(database)
        yield reader
    except UnimeterError:
        raise
    except Exception as cause:  # the database drivers' own errors, named, without a password
        message = redact_text(f"{type(cause).__name__}: {cause}".strip(), database.secrets).splitlines()[0]
        raise error(f"{doing} {database.shown}: {message}") from None
    finally:
        if reader is not None:
            reader.close()
