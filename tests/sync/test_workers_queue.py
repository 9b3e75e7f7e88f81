"""The queue's own rules, without workers: settings, which failures are retried, one job per account, the schema.

The worker processes themselves (rate budgets, a killed worker, schedules) are in test_workers.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import procrastinate
import psycopg
import pytest

from tests.sync.queue_helpers import fresh_database
from unimeter.cli import main
from unimeter.errors import (
    ConfigurationError,
    SecretKeyError,
    StoreError,
    VendorAuthError,
    VendorRateLimitError,
    VendorServerError,
    VendorTimeoutError,
)
from unimeter.queue.app import (
    ACCOUNT_LISTER,
    RUNNER,
    SCHEDULED_SYNC_TASK,
    SYNC_TASK,
    SyncJob,
    build_app,
    defer_syncs,
    ensure_schema,
)
from unimeter.queue.jobs import SyncJobError
from unimeter.queue.retry import SyncRetryStrategy, retryable
from unimeter.queue.settings import (
    QUEUE_URL_ENV,
    SCHEDULE_QUEUE,
    SYNC_QUEUE,
    WorkerSettings,
    check_cron,
    every,
    queue_url,
)
from unimeter.store import DATABASE_URL_ENV
from unimeter.sync.runner import StreamResult


@pytest.fixture
def queue_db(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url) as url:
        yield url


# --- settings ---------------------------------------------------------------------------------------------------


def test_the_queue_defaults_to_a_postgresql_accounts_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(QUEUE_URL_ENV, raising=False)
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://u@db.example/accounts")
    assert queue_url() == "postgresql://u@db.example/accounts"
    monkeypatch.setenv(QUEUE_URL_ENV, "postgresql://u@queue.example/q")
    assert queue_url() == "postgresql://u@queue.example/q"
    assert queue_url("postgres://u@other/q") == "postgres://u@other/q"


def test_an_embedded_store_has_no_queue_and_the_error_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(QUEUE_URL_ENV, raising=False)
    monkeypatch.setenv(DATABASE_URL_ENV, f"sqlite:///{tmp_path / 'accounts.db'}")
    with pytest.raises(ConfigurationError, match="--queue-url") as raised:
        queue_url()
    assert "without a queue" in str(raised.value)


def test_a_queue_url_that_is_not_postgresql_is_refused_without_its_password() -> None:
    with pytest.raises(ConfigurationError, match="PostgreSQL") as raised:
        queue_url("mysql://admin:hunter2@db/q")
    assert "hunter2" not in str(raised.value)


def test_worker_settings_refuse_what_cannot_work() -> None:
    with pytest.raises(ConfigurationError, match="concurrency"):
        WorkerSettings(queue_url="postgresql://x/q", concurrency=0)
    for bad in (0.0, -5.0, float("nan")):
        with pytest.raises(ConfigurationError, match="stalled-after"):
            WorkerSettings(queue_url="postgresql://x/q", stalled_after=bad)


def test_heartbeats_come_three_times_per_stalled_timeout_and_the_check_runs_as_often_as_the_timeout() -> None:
    settings = WorkerSettings(queue_url="postgresql://x/q", stalled_after=6)
    assert settings.heartbeat_every == 2
    assert settings.stalled_check_cron == "* * * * * */6"
    assert every(30) == "* * * * * */30"
    assert every(300) == "*/5 * * * *"
    assert every(7200) == "0 * * * *"
    assert every(0.2) == "* * * * * */1"


def test_a_schedule_must_be_a_cron_expression() -> None:
    assert check_cron("0 * * * *") == "0 * * * *"
    assert check_cron("*/15 * * * * 30") == "*/15 * * * * 30"
    for bad in ("", "hourly", "61 * * * *", "* * *"):
        with pytest.raises(ConfigurationError, match="cron"):
            check_cron(bad)


# --- retries ----------------------------------------------------------------------------------------------------


def _raised_from(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as error:
            raise outer from error
    except BaseException as error:
        return error


@pytest.mark.parametrize(
    "error",
    [
        VendorServerError("503", status=503),
        VendorRateLimitError("429", status=429),
        VendorTimeoutError("slow"),
        StoreError("cannot connect to the PostgreSQL store"),
        ConnectionResetError("reset"),
        psycopg.OperationalError("server closed the connection"),
        _raised_from(RuntimeError("load step failed"), VendorServerError("502", status=502)),
    ],
    ids=lambda error: type(error).__name__,
)
def test_failures_that_may_pass_are_retried(error: BaseException) -> None:
    assert retryable(error)


@pytest.mark.parametrize(
    "error",
    [
        VendorAuthError("401", status=401),
        SecretKeyError("the key does not open the account"),
        ValueError("a bug"),
        _raised_from(VendorAuthError("401", status=401), ConnectionResetError("reset")),
    ],
    ids=lambda error: type(error).__name__,
)
def test_failures_another_attempt_cannot_mend_are_not_retried(error: BaseException) -> None:
    assert not retryable(error)


def test_a_from_none_ends_the_chain_that_decides() -> None:
    try:
        try:
            raise ConnectionResetError("reset")
        except ConnectionResetError:
            raise ValueError("bad row") from None
    except ValueError as error:
        assert not retryable(error)


def test_retries_back_off_exponentially_and_stop() -> None:
    strategy = SyncRetryStrategy(max_attempts=3, exponential_wait=3)
    job = procrastinate.jobs.Job(id=1, queue=SYNC_QUEUE, lock=None, queueing_lock=None, task_name=SYNC_TASK)
    waits: list[float | None] = []
    for attempts in range(4):
        before = procrastinate.utils.utcnow()
        decision = strategy.get_retry_decision(exception=VendorServerError("x"), job=job.evolve(attempts=attempts))
        waits.append(
            None
            if decision is None or decision.retry_at is None
            else round((decision.retry_at - before).total_seconds())
        )
    assert waits == [3, 9, 27, None]
    assert strategy.get_retry_decision(exception=VendorAuthError("x"), job=job) is None


# --- one job per account, against PostgreSQL ---------------------------------------------------------------------


async def _statuses(app: procrastinate.App) -> dict[int, str]:
    return {job.id: job.status for job in await app.job_manager.list_jobs_async() if job.id is not None}


def test_an_identical_waiting_job_is_not_queued_twice_and_an_account_runs_one_job_at_a_time(queue_db: str) -> None:
    async def scenario() -> None:
        app = build_app(queue_db)
        async with app.open_async():
            assert await ensure_schema(app)
            first = await defer_syncs(app, [SyncJob("a1", "prod"), SyncJob("a2", "prod"), SyncJob("a1", "prod")])
            assert [job.account_id for job in first.queued] == ["a1", "a2"]
            assert [job.account_id for job in first.already_waiting] == ["a1"]
            # Another environment's account of the same id, and a job asking for more, are other jobs.
            assert (await defer_syncs(app, [SyncJob("a1", "test")])).queued
            assert (await defer_syncs(app, [SyncJob("a1", "prod", since="2026-01-01")])).queued
            assert len(await app.job_manager.list_jobs_async(status="todo")) == 4

            worker_id = await app.job_manager.register_worker()
            running = await app.job_manager.fetch_job(queues=[SYNC_QUEUE], worker_id=worker_id)
            assert running is not None and running.task_kwargs["account_id"] == "a1"
            # While a1 runs, its other job waits: no worker can take it before the first ends.
            taken = [await app.job_manager.fetch_job(queues=[SYNC_QUEUE], worker_id=worker_id) for _ in range(3)]
            assert sorted((job.task_kwargs["account_id"], job.task_kwargs["environment"]) for job in taken if job) == [
                ("a1", "test"),
                ("a2", "prod"),
            ]
            assert running.id is not None
            await app.job_manager.finish_job_by_id_async(running.id, procrastinate.jobs.Status.SUCCEEDED, False)
            after = await app.job_manager.fetch_job(queues=[SYNC_QUEUE], worker_id=worker_id)
            assert after is not None and after.task_kwargs["since"] == "2026-01-01"

    asyncio.run(scenario())


def test_a_job_going_back_to_the_queue_while_its_account_has_one_waiting_keeps_both(queue_db: str) -> None:
    """A retry (a vendor outage, a dead worker) while a schedule's next job of the account waits: no error, no job
    stuck running (with Procrastinate's queueing_lock the retry would raise and leave the job in doing)."""

    async def scenario() -> None:
        app = build_app(queue_db)
        async with app.open_async():
            await ensure_schema(app)
            await defer_syncs(app, [SyncJob("a1", "prod", since="2026-01-01")])
            worker_id = await app.job_manager.register_worker()
            running = await app.job_manager.fetch_job(queues=[SYNC_QUEUE], worker_id=worker_id)
            assert running is not None and running.id is not None
            assert (await defer_syncs(app, [SyncJob("a1", "prod")])).queued  # a schedule's tick while it runs
            await app.job_manager.retry_job(running)
            statuses = await _statuses(app)
            assert sorted(statuses.values()) == ["todo", "todo"]
            # The retried job is the older one: it runs first, then the other, never both at once.
            nxt = await app.job_manager.fetch_job(queues=[SYNC_QUEUE], worker_id=worker_id)
            assert nxt is not None and nxt.id == running.id
            assert await app.job_manager.fetch_job(queues=[SYNC_QUEUE], worker_id=worker_id) is None

    asyncio.run(scenario())


def test_workers_starting_together_on_a_fresh_database_create_the_schema_once(queue_db: str) -> None:
    async def start() -> bool:
        app = build_app(queue_db)
        async with app.open_async():
            return await ensure_schema(app)

    async def scenario() -> list[bool]:
        return list(await asyncio.gather(*(start() for _ in range(4))))

    assert sorted(asyncio.run(scenario())) == [False, False, False, True]
    with psycopg.connect(queue_db) as connection:
        assert connection.execute("SELECT count(*) FROM procrastinate_jobs").fetchone() == (0,)


# --- the worker command's refusals --------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_a_worker_refuses_a_duckdb_destination(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["worker", "--to", str(tmp_path / "usage.duckdb"), "--queue-url", "postgresql://u@127.0.0.1/q"])
    assert code == 2
    assert "one process at a time" in capsys.readouterr().err


def test_a_worker_without_a_queue_says_how_to_get_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(QUEUE_URL_ENV, raising=False)
    code = main(["worker", "--to", "postgresql://u@127.0.0.1/d", "--database", f"sqlite://{tmp_path / 's.db'}"])
    assert code == 2
    assert "--queue-url" in capsys.readouterr().err


def test_a_worker_whose_queue_is_down_fails_with_the_url_but_not_its_password(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    queue = f"postgresql://admin:s3cret-pw@127.0.0.1:{_free_port()}/queue"
    code = main(
        [
            "worker",
            "--to",
            "postgresql://u@127.0.0.1/d",
            "--queue-url",
            queue,
            "--database",
            f"sqlite://{tmp_path / 's.db'}",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "cannot connect to the queue database postgresql://admin:***@127.0.0.1" in err
    assert "s3cret-pw" not in err


@pytest.mark.parametrize(("option", "value"), [("--concurrency", "0"), ("--stalled-after", "0"), ("--batch-rows", "0")])
def test_worker_numbers_out_of_range_are_refused(
    option: str, value: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["worker", "--to", "postgresql://u@127.0.0.1/d", "--queue-url", "postgresql://u@127.0.0.1/q"]
    code = main([*args, "--database", f"sqlite://{tmp_path / 's.db'}", option, value])
    assert code == 2
    assert option in capsys.readouterr().err


# --- retries, in a worker run in this process -------------------------------------------------------------------


class _FlakyRunner:
    """Fails the first ``failures`` runs with ``error``, then syncs (records the accounts it ran)."""

    def __init__(self, error: Exception, failures: int) -> None:
        self.error = error
        self.failures = failures
        self.runs: list[str] = []

    def __call__(self, job: SyncJob) -> dict[str, int]:
        self.runs.append(job.account_id)
        if len(self.runs) <= self.failures:
            raise self.error
        return {"rows": 1}


async def _drain(app: procrastinate.App, runner: _FlakyRunner) -> None:
    """Run a worker until nothing is left to take now (a retry scheduled later is not "now")."""
    await app.run_worker_async(
        queues=[SYNC_QUEUE], wait=False, install_signal_handlers=False, additional_context={RUNNER: runner}
    )


def test_a_retryable_failure_runs_again_after_its_backoff_and_then_succeeds(queue_db: str) -> None:
    runner = _FlakyRunner(VendorServerError("503 from the vendor", status=503), failures=1)

    async def scenario() -> None:
        app = build_app(queue_db)
        async with app.open_async():
            await ensure_schema(app)
            await defer_syncs(app, [SyncJob("a1", "prod")])
            await _drain(app, runner)
            [job] = await app.job_manager.list_jobs_async()
            assert (job.status, job.attempts) == ("todo", 1)
            assert job.scheduled_at is not None
            wait = (job.scheduled_at - procrastinate.utils.utcnow()).total_seconds()
            assert 1.5 < wait <= 3.0, "the first retry waits 3 seconds"
            await asyncio.sleep(wait + 0.2)
            await _drain(app, runner)
            [job] = await app.job_manager.list_jobs_async()
            assert (job.status, job.attempts) == ("succeeded", 2)

    asyncio.run(scenario())
    assert runner.runs == ["a1", "a1"]


def test_a_failure_another_attempt_cannot_mend_fails_the_job_at_once(queue_db: str) -> None:
    runner = _FlakyRunner(VendorAuthError("401: invalid API key", status=401), failures=1)

    async def scenario() -> None:
        app = build_app(queue_db)
        async with app.open_async():
            await ensure_schema(app)
            await defer_syncs(app, [SyncJob("a1", "prod")])
            await _drain(app, runner)
            [job] = await app.job_manager.list_jobs_async()
            assert (job.status, job.attempts) == ("failed", 1)

    asyncio.run(scenario())
    assert runner.runs == ["a1"]


def test_a_sync_with_a_failed_stream_is_retried_only_when_one_failure_may_pass() -> None:
    def stream(report: str, code: str) -> StreamResult:
        return StreamResult("a1", "cursor", "prod", report, "failed", error=f"{code} happened", code=code)

    job = SyncJob("a1", "prod")
    outage = SyncJobError(job, [stream("report_type=usage_events", "remote_server_error")])
    assert retryable(outage)
    assert "report_type=usage_events (remote_server_error): remote_server_error happened" in str(outage)
    assert not retryable(SyncJobError(job, [stream("report_type=daily_usage", "remote_unauthorized")]))
    mixed = [stream("report_type=daily_usage", "mapping_error"), stream("report_type=usage_events", "remote_timeout")]
    assert retryable(SyncJobError(job, mixed)), "a retry resumes the failed streams; the one that may pass may pass"


# --- sync --enqueue / --schedule refusals -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--enqueue", "--to", "postgresql://u@127.0.0.1/d"], "--to is the workers'"),
        (["--schedule", "every hour"], "not a cron expression"),
        (["--schedule", "0 * * * *", "--full-refresh"], "at every tick"),
        (["--enqueue", "--since", "last week"], "last week"),
        (["--enqueue", "--account", "no-such-account"], "no account 'no-such-account'"),
    ],
    ids=["to", "cron", "schedule-full-refresh", "since", "account"],
)
def test_enqueue_refuses_what_workers_could_not_do(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    store = ["--database", f"sqlite://{tmp_path / 's.db'}", "--queue-url", "postgresql://u@127.0.0.1:1/q"]
    assert main(["sync", *store, *extra]) == 2
    assert message in capsys.readouterr().err


def test_a_queue_url_without_enqueue_or_schedule_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync", "--queue-url", "postgresql://u@127.0.0.1/q"]) == 2
    assert "--enqueue or --schedule" in capsys.readouterr().err


def test_a_schedule_tick_queues_the_accounts_listed_then_with_the_schedule_s_reports(queue_db: str) -> None:
    listed: list[tuple[list[str], str | None]] = []

    def lister(account_ids: Sequence[str], environment: str | None) -> list[tuple[str, str]]:
        listed.append((list(account_ids), environment))
        return [("a1", "prod"), ("a2", "prod")]

    async def scenario() -> list[dict[str, Any]]:
        app = build_app(queue_db)
        async with app.open_async():
            await ensure_schema(app)
            tick = {"timestamp": 1, "account_ids": [], "environment": "prod", "reports": ["report_type=usage_events"]}
            await app.configure_task(SCHEDULED_SYNC_TASK).defer_async(**tick)
            await defer_syncs(app, [SyncJob("a2", "prod", reports=("report_type=usage_events",))])  # already waits
            await app.run_worker_async(
                queues=[SCHEDULE_QUEUE],
                wait=False,
                install_signal_handlers=False,
                additional_context={ACCOUNT_LISTER: lister},
            )
            return [job.task_kwargs for job in await app.job_manager.list_jobs_async(task=SYNC_TASK)]

    queued = asyncio.run(scenario())
    assert listed == [([], "prod")]
    assert sorted((job["account_id"], tuple(job["reports"])) for job in queued) == [
        ("a1", ("report_type=usage_events",)),
        ("a2", ("report_type=usage_events",)),
    ], "a2's identical job was not queued again"
