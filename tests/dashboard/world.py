"""A synced world for the dashboard tests: three sandboxes, a store with accounts in three environments, a DuckDB
destination synced over the last week, and the HTTP service (dashboard included) on a loopback port.

- ``prod``: one account per simulator but Cursor's and OpenAI's (sandbox seed 0), plus a Confluent account whose
  simulator answers every request with a server error (a failing sync) and a Cursor account with a wrong key
  (``needs_reauth``);
- ``staging``: Cursor and OpenAI accounts of a second sandbox (seed 1). Not in ``prod`` too: a row's id is what it
  measures, and two sandboxes' Cursor rows of the same user and day are the same row (the last account synced would
  own it), as two accounts of one real organization would be;
- ``empty``: a token and no account.

The expected figures are computed by the tests with their own SQL over the same file (:func:`sql`), never read from
the dashboard's code.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import duckdb
import pytest
import uvicorn

from unimeter.api.cursor import load_cursor_key
from unimeter.demo_dashboard import bind
from unimeter.sandbox import SandboxConfig, start_sandbox
from unimeter.service import UsageService, create_app
from unimeter.store import Store, open_store
from unimeter.sync import SyncOptions, parse_destination, sync
from unimeter.synced import SyncedDatabase

DAYS = 7
PROD = ["claude", "claude-console", "confluent", "datadog", "openai-codex", "cursor"]
STAGING = ["cursor", "openai"]


async def no_sleep(_seconds: float) -> None:
    """Rate-limit waits and retry back-offs without waiting (the sandbox enforces no limit unless asked)."""


@dataclass
class Service:
    """The service on a loopback port, in a thread of this process."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextmanager
def serve(store: Store, synced: SyncedDatabase) -> Iterator[Service]:
    app = create_app(UsageService(store, load_cursor_key()), synced)
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard service did not start")
        time.sleep(0.05)
    service = Service(f"http://127.0.0.1:{port}", server, thread)
    try:
        yield service
    finally:
        service.stop()
        sock.close()


@dataclass
class World:
    folder: Path
    store: Store
    duckdb_file: Path
    tokens: dict[str, str]
    accounts: dict[str, dict[str, str]] = field(default_factory=dict)
    """Account ids by environment and role (``prod``: an id per integration, ``failing``, ``reauth``)."""
    service: Service | None = None

    @property
    def url(self) -> str:
        assert self.service is not None
        return self.service.url

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of one query on the synced file, read-only (the dashboard reads it the same way meanwhile)."""
        with duckdb.connect(str(self.duckdb_file), read_only=True) as connection:
            return connection.execute(query, list(params)).fetchall()


@contextmanager
def build_world(folder: Path) -> Iterator[World]:
    """The world above, its sandboxes running for as long as the block (the sync is over before it yields)."""
    with ExitStack() as stack, pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_DATA_HOME", str(folder / "data"))
        patch.setenv("DLT_PROJECT_DIR", str(folder / "dlt"))
        patch.setenv("DLT_DATA_DIR", str(folder / "dlt"))
        main = stack.enter_context(start_sandbox(PROD, SandboxConfig(seed=0)))
        other = stack.enter_context(start_sandbox(STAGING, SandboxConfig(seed=1)))
        broken = stack.enter_context(
            start_sandbox(["confluent"], SandboxConfig(seed=2), [("confluent", "server_error", 100_000)])
        )
        store = open_store(f"sqlite:///{folder / 'accounts.db'}", key_file=folder / "secret.key")
        world = World(folder, store, folder / "usage.duckdb", tokens={})
        world.accounts["prod"] = {
            name: str(store.create_account(name, environment="prod", **main.account(name)).id)
            for name in main.servers
            if name != "cursor"  # its simulator serves the needs_reauth account below
        }
        world.accounts["prod"]["failing"] = str(
            store.create_account("confluent", environment="prod", **broken.account("confluent")).id
        )
        wrong = main.account("cursor")
        wrong["credentials"] = {name: "not-the-key" for name in wrong["credentials"]}
        world.accounts["prod"]["reauth"] = str(store.create_account("cursor", environment="prod", **wrong).id)
        world.accounts["staging"] = {
            name: str(store.create_account(name, environment="staging", **other.account(name)).id)
            for name in other.servers
        }
        since = datetime.combine(datetime.now(UTC).date() - timedelta(days=DAYS - 1), clock.min, tzinfo=UTC)
        destination = parse_destination(str(world.duckdb_file))
        sync(store, destination, SyncOptions(since=since, sleep=no_sleep), progress=None)
        for environment in ("prod", "staging", "empty"):
            world.tokens[environment] = store.issue_token(environment=environment, name="dashboard tests")[0]
        world.service = stack.enter_context(serve(store, SyncedDatabase("duckdb", str(world.duckdb_file))))
        yield world
