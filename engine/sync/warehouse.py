"""The destination of a sync: a DuckDB file (the embedded default) or a PostgreSQL database, loaded through dlt.

Why dlt: it already does what a warehouse load needs and is tedious to get right by hand on two databases: merge on
a primary key (delete-insert through a staging dataset, in a transaction), child tables for lists whose rows are
replaced with their parent's, schema creation and evolution, and typed columns (DECIMAL, timestamps, JSON). The
same resources load DuckDB and PostgreSQL (and any other destination dlt has).

dlt is imported only here and only when a sync runs (its import takes about a second, which ``unimeter usage`` must
not pay). dlt reads settings from ``.dlt/`` in the working directory and in the home directory and sends anonymous
telemetry by default; a sync does neither: its project and data directories are a folder of unimeter's data
directory (unless the user set ``DLT_PROJECT_DIR`` / ``DLT_DATA_DIR`` themselves), telemetry is off, and each run
works in a fresh temporary pipelines folder there, so no local dlt state can disagree with the destination (the
sync's own state is a table of the destination: ``_unimeter_sync_state``).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import UnimeterError
from ..redaction import redact_text
from ..synced import SyncedDatabase, default_synced_database, parse_synced_database, sync_dir
from .columns import list_columns, usage_columns

DATASET = "unimeter"
"""The schema (PostgreSQL) or DuckDB schema the tables go in: queries name ``unimeter.usage`` on both."""
USAGE_TABLE = "usage"
STATE_TABLE = "_unimeter_sync_state"


class SyncDestinationError(UnimeterError):
    """The destination cannot be reached, written or read (its password is never in the message)."""

    code = "sync_destination_error"


Destination = SyncedDatabase
"""Where rows go: ``kind`` is ``duckdb`` (``target`` a file path) or ``postgres`` (``target`` a URL)."""


def parse_destination(text: str | None) -> Destination:
    """``--to``: nothing (the DuckDB file in the data directory), a ``.duckdb`` path or ``duckdb:///PATH``, or a
    ``postgresql://`` URL. Anything else is a ValueError naming what is accepted."""
    if text is None or text == "":
        return default_synced_database()
    return parse_synced_database(text, option="--to")


def _import_dlt() -> Any:
    """dlt, configured to stay inside unimeter's data directory, with telemetry off (set before its first import)."""
    home = sync_dir() / "dlt"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DLT_PROJECT_DIR", str(home))
    os.environ.setdefault("DLT_DATA_DIR", str(home))
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    import dlt

    return dlt


def _jsonable(value: Any) -> Any:
    """A JSON column as read back (DuckDB gives text, PostgreSQL a parsed value)."""
    return json.loads(value) if isinstance(value, str) else value


STATE_COLUMNS: dict[str, dict[str, Any]] = {
    "stream": {"data_type": "text", "nullable": False, "primary_key": True},
    "integrated_account_id": {"data_type": "text"},
    "integration": {"data_type": "text"},
    "environment": {"data_type": "text"},
    "report": {"data_type": "text"},
    "status": {"data_type": "text"},
    "synced_from": {"data_type": "timestamp"},
    "high_water_mark": {"data_type": "timestamp"},
    "refetch_from": {"data_type": "timestamp"},
    "last_run_at": {"data_type": "timestamp"},
    "last_success_at": {"data_type": "timestamp"},
    "last_error": {"data_type": "text"},
    "last_rows": {"data_type": "bigint"},
    "resume": {"data_type": "json"},
}
"""One row per account and report: what it holds (``synced_from`` .. ``high_water_mark``), where the next run
starts (``refetch_from``), when it last ran and how, and where an interrupted run goes on (``resume``: the query,
its clock and the point after the last row loaded)."""

_VIEWS = {
    "charges": ("usage__charges", "u.id AS usage_id, c.type, c.amount, c.currency", "c"),
    "resources": ("usage__resources", "u.id AS usage_id, c.id, c.name, c.workspace_id, c.workspace_name", "c"),
}
_EMPTY_VIEWS = {
    "charges": "CAST(NULL AS VARCHAR) AS usage_id, CAST(NULL AS VARCHAR) AS type, "
    "CAST(NULL AS DECIMAL(38, 18)) AS amount, CAST(NULL AS VARCHAR) AS currency",
    "resources": "CAST(NULL AS VARCHAR) AS usage_id, CAST(NULL AS VARCHAR) AS id, CAST(NULL AS VARCHAR) AS name, "
    "CAST(NULL AS VARCHAR) AS workspace_id, CAST(NULL AS VARCHAR) AS workspace_name",
}


class Warehouse:
    """One sync run's connection to the destination: read the state, load rows and states, keep the views."""

    def __init__(self, destination: Destination) -> None:
        self.destination = destination
        self._dlt = _import_dlt()
        sync_dir().mkdir(parents=True, exist_ok=True)
        self._folder = tempfile.TemporaryDirectory(prefix="pipelines-", dir=sync_dir())
        if destination.kind == "duckdb":
            Path(destination.target).parent.mkdir(parents=True, exist_ok=True)
            target = self._dlt.destinations.duckdb(credentials=destination.target)
        else:
            from dlt.destinations.impl.postgres.configuration import PostgresCredentials

            credentials = PostgresCredentials()
            credentials.parse_native_representation(destination.target)
            if credentials.password is None:
                # dlt requires a password field; a server that trusts the user (or a ~/.pgpass) needs none.
                credentials.password = ""
            credentials.resolve()
            target = self._dlt.destinations.postgres(credentials=credentials)
        self.pipeline = self._dlt.pipeline(
            pipeline_name="unimeter_sync",
            destination=target,
            dataset_name=DATASET,
            pipelines_dir=self._folder.name,
        )
        self._views_for: frozenset[str] | None = None

    def close(self) -> None:
        self._folder.cleanup()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except UnimeterError:
            raise
        except Exception as error:
            cause = error
            # dlt wraps the database's error (PipelineStepFailed > LoadClientJobFailed > ...): show the innermost.
            while cause.__cause__ is not None and isinstance(cause.__cause__, Exception):
                cause = cause.__cause__
            message = redact_text(f"{type(cause).__name__}: {cause}".strip(), self.destination.secrets)
            raise SyncDestinationError(
                f"{doing} {self.destination.shown}: {message.splitlines()[0] if message else type(cause).__name__}"
            ) from None

    # ------------------------------------------------------------------------------------------------- state

    def read_states(self) -> dict[str, dict[str, Any]]:
        """Every stream's state row by its ``stream`` key; empty for a destination never synced."""
        from dlt.destinations.exceptions import DatabaseUndefinedRelation

        names = list(STATE_COLUMNS)
        with self._errors("cannot read the sync state from"):
            try:
                with self.pipeline.sql_client() as client:
                    table = client.make_qualified_table_name(STATE_TABLE)
                    with client.execute_query(f"SELECT {', '.join(names)} FROM {table}") as cursor:
                        rows = cursor.fetchall()
            except DatabaseUndefinedRelation:
                return {}
        states = {}
        for row in rows:
            state = dict(zip(names, row, strict=True))
            state["resume"] = _jsonable(state["resume"])
            states[state["stream"]] = state
        return states

    # -------------------------------------------------------------------------------------------------- load

    def _usage_resource(self, records: list[dict[str, Any]]) -> Any:
        dlt = self._dlt
        return dlt.resource(
            records,
            name=USAGE_TABLE,
            write_disposition={"disposition": "merge", "strategy": "delete-insert"},
            primary_key="id",
            columns=usage_columns(),
            nested_hints={
                field: dlt.mark.make_nested_hints(columns=list_columns(field)) for field in ("charges", "resources")
            },
        )

    def _state_resource(self, states: list[dict[str, Any]]) -> Any:
        return self._dlt.resource(
            states,
            name=STATE_TABLE,
            write_disposition={"disposition": "merge", "strategy": "delete-insert"},
            primary_key="stream",
            columns=STATE_COLUMNS,
        )

    @contextlib.contextmanager
    def _one_writer(self) -> Iterator[None]:
        """One load at a time into a PostgreSQL destination, whichever process or machine loads (``unimeter worker``s
        syncing several accounts at once): dlt merges through staging tables that every pipeline on the database
        shares, so two loads at once would mix or truncate each other's staged rows, and two first loads would both
        create the tables. A session advisory lock on the destination database, released with its connection, so a
        killed process never leaves it held. A DuckDB file admits one writing process anyway."""
        if self.destination.kind != "postgres":
            yield
            return
        import psycopg

        with self._errors("cannot lock"):
            connection = psycopg.connect(self.destination.target, autocommit=True, connect_timeout=10)
        try:
            connection.execute("SELECT pg_advisory_lock(hashtext('unimeter.sync.load'))")
            yield
        finally:
            connection.close()

    def load(self, records: Sequence[dict[str, Any]], states: Sequence[dict[str, Any]]) -> None:
        """Upsert ``records`` by id, then (only once they are in) ``states`` by stream: a state never claims rows
        that did not arrive. Each is one dlt load, a transaction per table chain."""
        with self._one_writer():
            if records:
                with self._errors("cannot load rows into"):
                    self.pipeline.run(self._usage_resource(list(records)))
                self._ensure_views()
            if states:
                with self._errors("cannot save the sync state in"):
                    self.pipeline.run(self._state_resource(list(states)))

    def delete_rows(self, account_id: str, report: str) -> int:
        """Remove one account's rows of one report (``--full-refresh``), charges and resources included."""
        from dlt.destinations.exceptions import DatabaseUndefinedRelation

        with self._one_writer(), self._errors("cannot delete rows from"):
            try:
                with self.pipeline.sql_client() as client:
                    usage = client.make_qualified_table_name(USAGE_TABLE)
                    mine = f"SELECT _dlt_id FROM {usage} WHERE integrated_account_id = %s AND report = %s"
                    with client.begin_transaction():
                        for child in ("usage__charges", "usage__resources"):
                            with contextlib.suppress(DatabaseUndefinedRelation):
                                table = client.make_qualified_table_name(child)
                                client.execute_sql(
                                    f"DELETE FROM {table} WHERE _dlt_root_id IN ({mine})", account_id, report
                                )
                        with client.execute_query(
                            f"SELECT COUNT(*) FROM {usage} WHERE integrated_account_id = %s AND report = %s",
                            account_id,
                            report,
                        ) as cursor:
                            count = int(cursor.fetchone()[0])
                        client.execute_sql(
                            f"DELETE FROM {usage} WHERE integrated_account_id = %s AND report = %s", account_id, report
                        )
                        return count
            except DatabaseUndefinedRelation:
                return 0

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows of one read-only query (``unimeter demo --sync`` prints one)."""
        with (
            self._errors("cannot query"),
            self.pipeline.sql_client() as client,
            client.execute_query(sql) as cursor,
        ):
            names = [column[0] for column in cursor.description]
            return names, [tuple(row) for row in cursor.fetchall()]

    def _ensure_views(self) -> None:
        """``charges`` and ``resources`` views: each child row with its usage row's id. A child table dlt has not
        made yet (no row had such a list) gets an empty view of the same columns, replaced once it exists."""
        from dlt.common.schema.utils import has_table_seen_data

        # A table dlt knows of from the hints exists in the destination only once a row reached it.
        tables = frozenset(
            name for name, table in self.pipeline.default_schema.tables.items() if has_table_seen_data(table)
        )
        if self._views_for == tables:
            return
        with self._errors("cannot create the views in"), self.pipeline.sql_client() as client:
            usage = client.make_qualified_table_name(USAGE_TABLE)
            for view, (child, columns, alias) in _VIEWS.items():
                name = client.make_qualified_table_name(view)
                if child in tables:
                    table = client.make_qualified_table_name(child)
                    body = f"SELECT {columns} FROM {table} {alias} JOIN {usage} u ON {alias}._dlt_root_id = u._dlt_id"
                else:
                    body = f"SELECT {_EMPTY_VIEWS[view]} WHERE 1 = 0"
                # Dropped and made again, not replaced: PostgreSQL refuses to change a view's column types.
                client.execute_sql(f"DROP VIEW IF EXISTS {name}")
                client.execute_sql(f"CREATE VIEW {name} AS {body}")
            if USAGE_TABLE in tables:
                for statement in self._focus_view_statements(tables):
                    client.execute_sql(statement)
        self._views_for = tables

    def _focus_view_statements(self, tables: frozenset[str]) -> list[str]:
        """The ``focus`` view (docs/focus.md): the synced money rows as FOCUS 1.0 rows, the SQL that
        ``unimeter export focus --from`` runs, so a person querying the destination sees what the export writes."""
        from ..focus.view import SyncTables, create_focus_view_statements

        synced = SyncTables(
            schema=DATASET,
            usage=USAGE_TABLE,
            charges="usage__charges" if "usage__charges" in tables else None,
            resources="usage__resources" if "usage__resources" in tables else None,
        )
        return create_focus_view_statements(self.destination.kind, synced)


def state_row(
    *,
    stream: str,
    account_id: str,
    integration: str,
    environment: str,
    report: str,
    status: str,
    synced_from: datetime | None,
    high_water_mark: datetime | None,
    refetch_from: datetime | None,
    last_run_at: datetime,
    last_success_at: datetime | None,
    last_error: str | None,
    last_rows: int,
    resume: dict[str, Any] | None,
) -> dict[str, Any]:
    """One row of ``_unimeter_sync_state``."""
    return {
        "stream": stream,
        "integrated_account_id": account_id,
        "integration": integration,
        "environment": environment,
        "report": report,
        "status": status,
        "synced_from": synced_from,
        "high_water_mark": high_water_mark,
        "refetch_from": refetch_from,
        "last_run_at": last_run_at,
        "last_success_at": last_success_at,
        "last_error": last_error,
        "last_rows": last_rows,
        "resume": resume,
    }
