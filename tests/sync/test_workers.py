"""``unimeter worker`` processes on one PostgreSQL (accounts store, queue and destination in one database), against a
sandbox that enforces the vendor's rate limit.

The vendor is the Cursor simulator and mapping with a tighter limit than Cursor's (3 requests a second instead of 20
a minute, the same sliding window), so that a test reaches it in seconds: each account has a simulator of its own
(the sandbox counts a limit per server, as a vendor counts it per team), and its jobs run back to back on whichever
worker is free. Only a budget shared by every worker keeps the second job of an account from sending its first
requests inside the window the previous job's last requests opened.

What is checked is what an operator would: the sandbox's count of refused requests, the queue's rows (which worker
ran what, how often), and the destination's rows against the vendor's own rows for the same range.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet

from tests.sync.queue_helpers import fresh_database
from unimeter.run.pipeline import QueryOptions, iter_pages
from unimeter.run.ratelimit import RateLimiter
from unimeter.sandbox import SandboxConfig, account_fields
from unimeter.sandbox.messages import SimRequest, SimResponse
from unimeter.sandbox.server import Sandbox, serve_simulators
from unimeter.sandbox.vendors.cursor import CursorSimulator
from unimeter.spec import MAPPINGS_PATH_ENV
from unimeter.spec.registry import load_integration
from unimeter.store import DATABASE_URL_ENV, open_store
from unimeter.store.secrets import SECRET_KEY_ENV

PROJECT = Path(__file__).resolve().parents[2]
LIMIT = (3, 1.0)
"""The test vendor's limit: 3 requests in any second."""
DECLARED = (3, 1.5)
"""What the test's mapping declares: the same 3 requests, in a window half a second longer. A booked slot and the
request's arrival at the sandbox are apart by the scheduling delays of every process on a loaded 2-core machine
(the workers, the sandbox's threads, PostgreSQL); the store's budget adds 2% of the window, at least 0.25 s, which
covers a real vendor's minute-long window but not a test's one-second window on a busy machine. Without the budget
shared through the store the margin changes nothing: each query starts with three slots of its own (measured once,
with this scenario, a one-second declaration and a limiter per query: the sandbox refused 3 to 5 requests per
account in 25 seconds; with the shared budget, none)."""
REPORTS = ({"report_type": "daily_usage"}, {"report_type": "usage_events"})
DAYS_BACK = 45
"""--since this many days ago: two 30-day windows of each report, so a first sync makes four requests."""
ACCOUNTS = 4
"""One more account than workers: a worker that ends a job takes the oldest waiting one, which is another account's
(the one it just synced waits behind), so each account's jobs move from worker to worker."""
STALLED_AFTER = 4.0
"""Seconds without a heartbeat (sent every third of it) before a worker counts as dead: short, so the test does not
wait Procrastinate's 30 s, and long enough that a live worker on a loaded machine is never taken for dead."""
WAIT_SECONDS = 60


class TightCursor(CursorSimulator):
    """The Cursor simulator with :data:`LIMIT`, keeping the time of every request it answered.

    Each team (seed) has users of its own, as Cursor's user ids are: the simulator numbers every team's users from
    10000, and a row's id is its day and user id."""

    rate_limit = LIMIT

    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(config)
        self.answered: list[float] = []

    def handle(self, request: SimRequest, fault: str | None) -> SimResponse:
        self.answered.append(time.monotonic())
        return super().handle(request, fault)

    def row(self, user: int, day_ms: int) -> dict[str, Any]:
        record = super().row(user, day_ms)
        team = self.config.seed
        return {**record, "userId": record["userId"] + 1000 * team, "email": f"user{user}@team{team}.example"}


def _tight_mapping(folder: Path) -> None:
    """The shipped Cursor mapping with :data:`DECLARED` as its rate limit, first on the search path."""
    text = (PROJECT / "mappings" / "cursor.yaml").read_text()
    tight, count = re.subn(
        r"^rate_limit: \{requests: 20, per_seconds: 60\}$",
        f"rate_limit: {{requests: {DECLARED[0]}, per_seconds: {DECLARED[1]:g}}}",
        text,
        flags=re.MULTILINE,
    )
    assert count == 1, "the Cursor mapping's rate_limit line moved: update this test"
    folder.mkdir(parents=True)
    (folder / "cursor.yaml").write_text(tight)


@dataclass
class World:
    """One database (store, queue, destination), the sandbox, the accounts, the environment of every process."""

    url: str
    sandbox: Sandbox
    accounts: dict[str, str]
    """Account id -> the sandbox server it reads."""
    env: dict[str, str]
    logs: Path
    since: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *args: str, name: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "unimeter.cli", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.logs,
        )
        self.processes.append(process)
        return process

    def start_workers(self, count: int, *extra: str) -> list[subprocess.Popen[bytes]]:
        return [
            self.start("worker", "--to", self.url, "--stalled-after", str(STALLED_AFTER), *extra, name=f"worker{i}")
            for i in range(count)
        ]

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url) as connection:
            return connection.execute(sql, params).fetchall()

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for(what: str, check: Callable[[], Any], world: World, timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        for process in world.processes:
            code = process.poll()
            assert code is None or code in (0, -signal.SIGKILL), f"a process exited with {code}:\n" + "\n".join(
                world.log(path.stem) for path in world.logs.glob("*.log")
            )
        time.sleep(0.2)
    logs = "\n".join(
        f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}" for path in world.logs.glob("*.log")
    )
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


@pytest.fixture
def world(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    mappings = tmp_path / "mappings"
    _tight_mapping(mappings)
    logs = tmp_path / "logs"
    logs.mkdir()
    key = Fernet.generate_key().decode()
    monkeypatch.setenv(MAPPINGS_PATH_ENV, str(mappings))
    monkeypatch.setenv(SECRET_KEY_ENV, key)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    # The simulators' clock is fixed at this morning: the data a sync reads cannot move while the test runs.
    morning = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    config = SandboxConfig(users=4, enforce_rate_limits=True, rate_limit_retry_after=False, now=morning)
    with fresh_database(postgres_url, "unimeter_workers") as url:
        # The destination's URL carries a password (any: the session's server trusts local connections).
        url = url.replace("postgres@", "postgres:unused@", 1)
        monkeypatch.setenv(DATABASE_URL_ENV, url)
        simulators = {f"team{i}": TightCursor(dataclasses.replace(config, seed=i)) for i in range(ACCOUNTS)}
        with serve_simulators(dict(simulators), config) as sandbox:
            store = open_store(url)
            accounts = {
                str(
                    store.create_account("cursor", environment="prod", **account_fields(sandbox.endpoint(name))).id
                ): name
                for name in simulators
            }
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            since = (morning - timedelta(days=DAYS_BACK)).date().isoformat()
            world = World(url, sandbox, accounts, env, logs, since)
            try:
                yield world
            finally:
                world.stop()


def _simulator(world: World, account_id: str) -> TightCursor:
    simulator = world.sandbox.simulator(world.accounts[account_id])
    assert isinstance(simulator, TightCursor)
    return simulator


def _vendor_rows(world: World, *account_ids: str) -> dict[str, set[str]]:
    """The ids of the vendor's own rows, per account, for the range the syncs read (since .. today, both reports),
    read with the mapping's own limit before any worker starts (so each team's window is the test's alone)."""
    spec = load_integration("cursor")
    store = open_store(world.url)
    today = datetime.now(UTC).date().isoformat()

    async def read(account_id: str) -> set[str]:
        account = store.get_account(account_id, environment="prod")
        budget = RateLimiter(*DECLARED)  # one budget for both reports' queries, as the account has one
        ids: set[str] = set()
        for report in REPORTS:
            params = {**report, "start_date": world.since, "end_date": today}
            options = QueryOptions(
                credentials=account.credentials, context=account.context, params=params, rate_limiter=budget
            )
            async for page in iter_pages(spec, options):
                ids.update(row["id"] for row in page.rows)
        return ids

    async def read_all() -> list[set[str]]:
        return list(await asyncio.gather(*(read(account_id) for account_id in account_ids)))

    return dict(zip(account_ids, asyncio.run(read_all()), strict=True))


def _destination_rows(world: World) -> list[tuple[str, str]]:
    return [
        (str(account), str(row_id))
        for account, row_id in world.query("SELECT integrated_account_id, id FROM unimeter.usage")
    ]


def _sync_jobs(world: World) -> list[tuple[int, str, int | None, str]]:
    """(id, status, worker id, account id) of every sync job, oldest first."""
    rows = world.query(
        "SELECT id, status::text, worker_id, args->>'account_id' FROM procrastinate_jobs "
        "WHERE task_name = 'unimeter.sync_account' ORDER BY id"
    )
    return [(int(row[0]), str(row[1]), row[2], str(row[3])) for row in rows]


def _idle(world: World) -> bool:
    jobs = _sync_jobs(world)
    return bool(jobs) and all(status in ("succeeded", "failed") for _, status, _, _ in jobs)


def _enqueue(world: World, *selection: str) -> str:
    """``unimeter sync --enqueue --since ...`` as an operator types it; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "unimeter.cli", "sync", "--enqueue", "--since", world.since, *selection],
        env=world.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _shown(url: str) -> str:
    return url.replace(":unused@", ":***@")


def _wait_out_the_window() -> None:
    time.sleep(DECLARED[1] + 0.3)


def test_three_workers_deliver_every_row_once_and_the_vendor_refuses_nothing(world: World) -> None:
    expected = _vendor_rows(world, *world.accounts)
    assert all(len(ids) > 20 for ids in expected.values()), "each team has rows in the range"
    answered_before = {account: len(_simulator(world, account).answered) for account in world.accounts}
    _wait_out_the_window()

    workers = world.start_workers(3)
    assert _enqueue(world, "--all").endswith(f"{ACCOUNTS} queued, 0 already waiting on {_shown(world.url)}\n")
    # A schedule every second: each account's next sync waits while its last runs, and starts the moment it ends,
    # on whichever worker is free.
    schedule = world.start("sync", "--schedule", "* * * * * *", name="schedule")
    _wait_for("three syncs of every account", lambda: _finished_per_account(world) >= 3, world)
    schedule.send_signal(signal.SIGTERM)
    assert schedule.wait(timeout=20) == 0
    _wait_for("the queue to drain", lambda: _idle(world), world)

    jobs = _sync_jobs(world)
    assert [job for job in jobs if job[1] != "succeeded"] == []
    ticks = world.query("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'unimeter.scheduled_sync'")
    assert ticks[0][0] >= 2, "the schedule ticked"
    assert len(jobs) >= 3 * ACCOUNTS, "--enqueue queued one sync per account, the schedule the others"
    assert len({worker for _, _, worker, _ in jobs}) == 3, "every worker took jobs"
    for account in world.accounts:
        simulator = _simulator(world, account)
        assert world.sandbox.rate_limit_violations(world.accounts[account]) == 0
        assert len(simulator.answered) - answered_before[account] >= 8, "the syncs made requests"
        assert len({worker for _, _, worker, owner in jobs if owner == account}) >= 2, "an account moved workers"

    rows = _destination_rows(world)
    assert len(rows) == len(set(rows)), "no row twice"
    assert len({row_id for _, row_id in rows}) == len(rows), "no id twice, across accounts too"
    for account, ids in expected.items():
        assert {row_id for owner, row_id in rows if owner == account} == ids

    # SIGTERM: each worker stops once its running job (none now) is done, and says nothing went wrong.
    for process in workers:
        process.send_signal(signal.SIGTERM)
    assert [process.wait(timeout=20) for process in workers] == [0, 0, 0]


def _finished_per_account(world: World) -> int:
    done: dict[str, int] = dict.fromkeys(world.accounts, 0)
    for _, status, _, account in _sync_jobs(world):
        if status == "succeeded":
            done[account] += 1
    return min(done.values())


def test_a_job_whose_worker_is_killed_is_finished_by_another_without_duplicates(world: World) -> None:
    account = next(iter(world.accounts))
    expected = _vendor_rows(world, account)[account]
    _wait_out_the_window()
    # Small loads, so the killed worker has loaded part of the account's rows before it dies.
    workers = world.start_workers(3, "--batch-rows", "20")
    assert f"queued          {account} (prod)" in _enqueue(world, "--account", account)

    def partly_loaded() -> bool:
        count = world.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'unimeter' AND tablename = 'usage'")
        if count[0][0] == 0:
            return False
        return 0 < world.query("SELECT count(*) FROM unimeter.usage")[0][0] < len(expected)

    _wait_for("the first rows of the job", partly_loaded, world)
    (job_id, status, first_worker, _) = _sync_jobs(world)[0]
    assert status == "doing"
    marker = f"job {job_id} syncs account {account}"
    holder = next(i for i in range(3) if marker in world.log(f"worker{i}"))
    workers[holder].send_signal(signal.SIGKILL)
    workers[holder].wait(timeout=10)

    _wait_for("another worker to finish the job", lambda: _sync_jobs(world)[0][1] == "succeeded", world)
    (_, _, last_worker, _) = _sync_jobs(world)[0]
    assert last_worker != first_worker
    others = [world.log(f"worker{i}") for i in range(3) if i != holder]
    assert sum(marker in log for log in others) == 1, "exactly one other worker took the job up"
    rows = _destination_rows(world)
    assert len(rows) == len(set(rows)), "no row twice"
    assert {row_id for _, row_id in rows} == expected
    assert world.sandbox.rate_limit_violations(world.accounts[account]) == 0
