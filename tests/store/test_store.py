"""The accounts store (engine/store.py, engine/secrets.py) and its CLI, run against SQLite and PostgreSQL alike.

Every test that takes ``database_url`` runs once per backend. PostgreSQL is a throwaway server that the session starts
on first use (tests/helpers/postgres_server.py: the pgserver wheel of the test extra, else Debian's binaries), or the
one ``UNIMETER_TEST_POSTGRES_URL`` names; each test starts from empty tables. When no server can be had the PostgreSQL
runs fail under CI and are skipped elsewhere. Secrets are checked where they could leak: the raw database row, reprs,
error messages and envelopes, CLI output.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from cryptography.fernet import Fernet

from tests.helpers.paths import PROJECT
from unimeter.errors import (
    AccountNotFoundError,
    ConfigurationError,
    SecretKeyError,
    UnimeterError,
    UnknownIntegrationError,
)
from unimeter.store import Account, PostgresStore, Store, database_url, open_store
from unimeter.store.secrets import hash_api_token, load_secret_box

ROOT = PROJECT
API_KEY = "dd-api-SECRET-4f1c9a"
APP_KEY = "dd-app-SECRET-77b2e0"
DATADOG = {"api_key": API_KEY, "application_key": APP_KEY}


def _raw(url: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run SQL on the database itself, bypassing the store (``?`` placeholders)."""
    if url.startswith("sqlite://"):
        with closing(sqlite3.connect(url.removeprefix("sqlite://"))) as connection, connection:
            return connection.execute(sql, params).fetchall()
    with psycopg.connect(url) as connection:
        cursor = connection.execute(sql.replace("?", "%s"), params)
        return cursor.fetchall() if cursor.description is not None else []


@pytest.fixture(autouse=True)
def _private_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep every key file and default database inside tmp_path, whatever the caller's environment holds."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("UNIMETER_SECRET_KEY", raising=False)
    monkeypatch.delenv("UNIMETER_DATABASE_URL", raising=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url_for(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")  # looked up here, so SQLite-only runs start no server
    _raw(url, "DROP TABLE IF EXISTS unimeter_accounts, unimeter_api_tokens, unimeter_rate_slots")
    return url


@pytest.fixture
def store(database_url_for: str) -> Store:
    return open_store(database_url_for)


def _datadog(store: Store, environment: str = "prod", **context: str) -> Account:
    return store.create_account(
        "datadog", environment=environment, credentials=DATADOG, context=context or {"site": "datadoghq.eu"}
    )


def _assert_no_secret(text: str) -> None:
    assert API_KEY not in text and APP_KEY not in text


def test_created_account_reads_back_with_its_credentials(store: Store) -> None:
    created = _datadog(store)
    read = store.get_account(created.id, environment="prod")
    assert read.credentials == DATADOG
    assert read.context == {"site": "datadoghq.eu"}
    assert (read.integration, read.environment, read.status) == ("datadog", "prod", "active")
    assert read.created_at == created.created_at == read.updated_at
    assert store.get_account(str(created.id), environment="prod") == read


def test_public_view_shows_which_credentials_are_set_never_their_values(store: Store) -> None:
    public = _datadog(store).to_public()
    assert public["credentials"] == {"api_key": "set", "application_key": "set"}
    assert set(public) == {
        "id",
        "integration",
        "environment",
        "credentials",
        "context",
        "status",
        "created_at",
        "updated_at",
    }
    _assert_no_secret(json.dumps(public))


def test_credentials_are_encrypted_at_rest(store: Store, database_url_for: str) -> None:
    account = _datadog(store)
    rows = _raw(database_url_for, "SELECT * FROM unimeter_accounts WHERE id = ?", (str(account.id),))
    assert len(rows) == 1
    _assert_no_secret(repr(rows[0]))
    assert "api_key" not in repr(rows[0])  # even the field names are sealed


def test_credentials_copied_into_another_accounts_row_do_not_open(store: Store, database_url_for: str) -> None:
    victim, attacker = _datadog(store, "prod"), _datadog(store, "dev")
    sealed = _raw(database_url_for, "SELECT credentials FROM unimeter_accounts WHERE id = ?", (str(victim.id),))[0][0]
    _raw(database_url_for, "UPDATE unimeter_accounts SET credentials = ? WHERE id = ?", (sealed, str(attacker.id)))
    with pytest.raises(SecretKeyError, match="belong to another account"):
        store.get_account(attacker.id, environment="dev")


def test_credentials_do_not_open_under_another_key(database_url_for: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNIMETER_SECRET_KEY", Fernet.generate_key().decode())
    account = _datadog(open_store(database_url_for))
    monkeypatch.setenv("UNIMETER_SECRET_KEY", Fernet.generate_key().decode())
    with pytest.raises(SecretKeyError, match="not the one they were sealed with"):
        open_store(database_url_for).get_account(account.id, environment="prod")


def test_a_second_key_in_the_environment_still_opens_old_credentials(
    database_url_for: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("UNIMETER_SECRET_KEY", old)
    account = _datadog(open_store(database_url_for))
    monkeypatch.setenv("UNIMETER_SECRET_KEY", f"{new},{old}")
    assert open_store(database_url_for).get_account(account.id, environment="prod").credentials == DATADOG


def test_two_store_objects_on_one_url_share_accounts_and_tokens(database_url_for: str) -> None:
    first, second = open_store(database_url_for), open_store(database_url_for)
    account = _datadog(first)
    token = first.create_token(environment="prod")
    assert second.get_account(account.id, environment="prod").credentials == DATADOG
    assert second.resolve_token(token) == "prod"


def test_account_of_another_environment_is_reported_exactly_like_a_missing_one(store: Store) -> None:
    account = _datadog(store, "prod")
    missing = uuid4()
    for operation in (
        lambda i: store.get_account(i, environment="dev"),
        lambda i: store.update_account(i, environment="dev", context={"site": "datadoghq.com"}),
        lambda i: store.mark_status(i, environment="dev", status="needs_reauth"),
        lambda i: store.delete_account(i, environment="dev"),
    ):
        with pytest.raises(AccountNotFoundError) as foreign:
            operation(account.id)
        with pytest.raises(AccountNotFoundError) as absent:
            operation(missing)
        assert foreign.value.to_dict() == {
            **absent.value.to_dict(),
            "message": absent.value.message.replace(str(missing), str(account.id)),
            "account_id": str(account.id),
        }
    assert store.get_account(account.id, environment="prod").status == "active"


def test_malformed_account_id_is_reported_as_not_found(store: Store) -> None:
    with pytest.raises(AccountNotFoundError, match="no account 'not-a-uuid' in environment 'prod'"):
        store.get_account("not-a-uuid", environment="prod")


def test_list_accounts_by_environment(store: Store) -> None:
    prod = [_datadog(store, "prod"), _datadog(store, "prod", site="datadoghq.com")]
    dev = _datadog(store, "dev")
    assert {a.id for a in store.list_accounts("prod")} == {a.id for a in prod}
    assert [a.id for a in store.list_accounts("dev")] == [dev.id]
    assert store.list_accounts("staging") == []
    assert {a.id for a in store.list_accounts()} == {*(a.id for a in prod), dev.id}


def test_mark_status_needs_reauth_persists_and_new_credentials_make_it_active(store: Store) -> None:
    account = _datadog(store)
    marked = store.mark_status(account.id, environment="prod", status="needs_reauth")
    assert marked.status == "needs_reauth" and marked.updated_at >= account.updated_at
    assert store.get_account(account.id, environment="prod").status == "needs_reauth"
    # A context change that keeps the destination (same site) needs no credentials and leaves the status alone.
    summary = {"site": "datadoghq.eu", "view": "summary"}
    assert store.update_account(account.id, environment="prod", context=summary).status == "needs_reauth"
    fresh = {"api_key": "new-api", "application_key": "new-app"}
    repaired = store.update_account(account.id, environment="prod", credentials=fresh)
    assert repaired.status == "active"
    read = store.get_account(account.id, environment="prod")
    assert (read.status, read.credentials, read.context) == ("active", fresh, summary)


def test_update_validates_against_the_integration_and_keeps_the_old_values_on_error(store: Store) -> None:
    account = _datadog(store)
    with pytest.raises(ConfigurationError) as caught:
        store.update_account(account.id, environment="prod", credentials={"api_key": "only-one"})
    assert caught.value.details["field"] == "application_key"
    with pytest.raises(ConfigurationError, match="status"):
        store.mark_status(account.id, environment="prod", status="broken")  # type: ignore[arg-type]
    assert store.get_account(account.id, environment="prod").credentials == DATADOG


def test_delete_removes_the_account(store: Store) -> None:
    account = _datadog(store)
    store.delete_account(account.id, environment="prod")
    with pytest.raises(AccountNotFoundError):
        store.get_account(account.id, environment="prod")
    with pytest.raises(AccountNotFoundError):
        store.delete_account(account.id, environment="prod")


def test_token_is_stored_only_as_its_sha256_hash(store: Store, database_url_for: str) -> None:
    token = store.create_token(environment="prod")
    other = store.create_token(environment="dev")
    assert token != other and len(token) > 40
    rows = _raw(database_url_for, "SELECT token_hash, environment FROM unimeter_api_tokens ORDER BY environment")
    assert sorted(rows) == sorted([(hash_api_token(token), "prod"), (hash_api_token(other), "dev")])
    assert token not in repr(rows) and other not in repr(rows)
    assert (store.resolve_token(token), store.resolve_token(other)) == ("prod", "dev")
    assert store.resolve_token(token + "x") is None
    assert store.resolve_token(hash_api_token(token)) is None  # the stored hash is not itself a token


def test_unknown_integration_is_a_clear_error(store: Store) -> None:
    with pytest.raises(UnknownIntegrationError, match=r"no integration named 'nope'; available: .*datadog"):
        store.create_account("nope", environment="prod", credentials={"api_key": API_KEY})
    with pytest.raises(UnknownIntegrationError):
        store.create_account("../mappings/datadog", environment="prod", credentials=DATADOG)
    assert store.list_accounts() == []


@pytest.mark.parametrize(
    ("credentials", "context", "field"),
    [
        ({"api_key": API_KEY}, {}, "application_key"),
        ({**DATADOG, "password": API_KEY}, {}, "password"),
        ({API_KEY: APP_KEY, **DATADOG}, {}, API_KEY),  # a secret pasted as a field name is named, as the caller sent it
        (DATADOG, {"site": "example.com"}, "site"),
        (DATADOG, {"token": API_KEY}, "token"),
        (DATADOG, {"base_url": "ftp://x"}, "base_url"),
    ],
)
def test_validation_errors_name_the_field_and_never_echo_a_secret_value(
    store: Store, credentials: dict[str, str], context: dict[str, str], field: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        store.create_account("datadog", environment="prod", credentials=credentials, context=context)
    assert caught.value.details["field"] == field
    assert field in caught.value.message
    if field != API_KEY:
        _assert_no_secret(caught.value.message + json.dumps(caught.value.to_dict()))
    assert store.list_accounts() == []


def test_environment_names_are_checked(store: Store) -> None:
    for bad in ("", " prod", "a/b", "x" * 65):
        with pytest.raises(ConfigurationError) as caught:
            store.create_account("cursor", environment=bad, credentials={"api_key": API_KEY})
        assert caught.value.details["field"] == "environment"
        with pytest.raises(ConfigurationError):
            store.create_token(environment=bad)


def test_reprs_never_show_secrets(store: Store) -> None:
    account = _datadog(store)
    _assert_no_secret(repr(account) + str(account) + repr(store))
    assert "application_key" in repr(account)


def test_postgres_store_repr_hides_the_password() -> None:
    store = PostgresStore("postgresql://me:hunter2@db.internal:5432/x", load_secret_box())
    assert repr(store) == "PostgresStore('postgresql://me:***@db.internal:5432/x')"


def test_postgres_url_password_is_redacted_in_reprs_and_errors() -> None:
    with pytest.raises(UnimeterError) as caught:
        open_store("postgresql://me:hunter2@127.0.0.1:1/x")
    assert "hunter2" not in str(caught.value) and "me:***@127.0.0.1:1" in str(caught.value)


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'store.db'}"
    key_file = tmp_path / "data" / "unimeter" / "secret.key"
    account = _datadog(open_store(url))
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    key = key_file.read_text()
    Fernet(key.strip().encode())
    assert open_store(url).get_account(account.id, environment="prod").credentials == DATADOG
    assert key_file.read_text() == key
    assert [p.name for p in key_file.parent.iterdir()] == ["secret.key"]


def test_key_file_is_not_created_when_the_key_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNIMETER_SECRET_KEY", Fernet.generate_key().decode())
    _datadog(open_store(f"sqlite://{tmp_path / 'store.db'}"))
    assert not (tmp_path / "data" / "unimeter" / "secret.key").exists()


def test_malformed_secret_key_is_reported_without_echoing_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNIMETER_SECRET_KEY", "not-a-key-SECRET")
    with pytest.raises(SecretKeyError, match=r"UNIMETER_SECRET_KEY .* is not a Fernet key") as caught:
        open_store(f"sqlite://{tmp_path / 'store.db'}")
    assert "not-a-key-SECRET" not in str(caught.value)


def test_default_database_lives_in_the_user_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert database_url() == f"sqlite://{tmp_path / 'data' / 'unimeter' / 'unimeter.db'}"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert database_url() == f"sqlite://{tmp_path / 'home' / '.local' / 'share' / 'unimeter' / 'unimeter.db'}"
    monkeypatch.setenv("UNIMETER_DATABASE_URL", "postgresql://db/x")
    assert database_url() == "postgresql://db/x"
    assert database_url("sqlite:///elsewhere.db") == "sqlite:///elsewhere.db"


def test_sqlite_database_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "store.db"
    store = open_store(f"sqlite://{path}")
    store.create_token(environment="prod")  # the write-ahead log and its index now exist beside the file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    journal = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
    assert all(stat.S_IMODE(file.stat().st_mode) == 0o600 for file in journal)


def test_unsupported_or_relative_database_urls_are_rejected() -> None:
    for url in ("mysql://db/x", "sqlite://relative.db"):
        with pytest.raises(ConfigurationError) as caught:
            open_store(url)
        assert caught.value.details["field"] == "database"


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "unimeter.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    yield {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}


def test_cli_round_trip(database_url_for: str, cli_env: dict[str, str]) -> None:
    db = ("--database", database_url_for)
    created = _cli(
        "accounts",
        "create",
        "datadog",
        "--environment",
        "prod",
        "--credential",
        f"api_key={API_KEY}",
        "--credential",
        f"application_key={APP_KEY}",
        "--context",
        "site=datadoghq.eu",
        *db,
        env=cli_env,
    )
    assert created.returncode == 0, created.stderr
    account = json.loads(created.stdout)
    assert account["credentials"] == {"api_key": "set", "application_key": "set"}
    assert (account["integration"], account["environment"], account["status"]) == ("datadog", "prod", "active")

    listed = _cli("accounts", "list", "--environment", "prod", *db, env=cli_env)
    assert [a["id"] for a in json.loads(listed.stdout)] == [account["id"]]
    assert json.loads(_cli("accounts", "list", "--environment", "dev", *db, env=cli_env).stdout) == []
    shown = _cli("accounts", "get", account["id"], "--environment", "prod", *db, env=cli_env)
    assert json.loads(shown.stdout) == account
    foreign = _cli("accounts", "get", account["id"], "--environment", "dev", *db, env=cli_env)
    assert foreign.returncode == 1 and json.loads(foreign.stderr)["status"] == 404

    updated = _cli(
        "accounts", "update", account["id"], "--environment", "prod", "--status", "needs_reauth", *db, env=cli_env
    )
    assert json.loads(updated.stdout)["status"] == "needs_reauth"

    token = _cli("tokens", "create", "--environment", "prod", *db, env=cli_env)
    assert token.returncode == 0 and "not shown again" in token.stderr
    assert (
        open_store(database_url_for, key_file=Path(cli_env["XDG_DATA_HOME"]) / "unimeter" / "secret.key").resolve_token(
            token.stdout.strip()
        )
        == "prod"
    )

    deleted = _cli("accounts", "delete", account["id"], "--environment", "prod", *db, env=cli_env)
    assert json.loads(deleted.stdout) == {"id": account["id"], "deleted": True}
    gone = _cli("accounts", "get", account["id"], "--environment", "prod", *db, env=cli_env)
    assert gone.returncode == 1 and json.loads(gone.stderr)["error"] == "account_not_found"
    for result in (created, listed, shown, foreign, updated, token, deleted, gone):
        _assert_no_secret(result.stdout + result.stderr)


def test_cli_uses_the_database_url_from_the_environment_then_the_default(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    created = _cli(
        "accounts", "create", "cursor", "--environment", "prod", "--credential", f"api_key={API_KEY}", env=cli_env
    )
    assert created.returncode == 0, created.stderr
    data = tmp_path / "data" / "unimeter"
    assert sorted(p.name for p in data.iterdir()) == ["secret.key", "unimeter.db"]
    assert stat.S_IMODE((data / "secret.key").stat().st_mode) == 0o600
    elsewhere = f"sqlite://{tmp_path / 'other.db'}"
    env = {**cli_env, "UNIMETER_DATABASE_URL": elsewhere}
    assert json.loads(_cli("accounts", "list", env=env).stdout) == []
    assert len(json.loads(_cli("accounts", "list", env=cli_env).stdout)) == 1


def test_cli_validation_error_is_an_envelope_without_the_secret(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = _cli(
        "accounts",
        "create",
        "datadog",
        "--environment",
        "prod",
        "--credential",
        f"api_key={API_KEY}",
        "--context",
        "site=nowhere",
        "--database",
        f"sqlite://{tmp_path / 's.db'}",
        env=cli_env,
    )
    assert result.returncode == 1
    envelope = json.loads(result.stderr)
    assert (envelope["status"], envelope["details"]["field"]) == (400, "application_key")
    _assert_no_secret(result.stdout + result.stderr)


# ------------------------------------------------------------------------------------------------- rate budgets


def test_rate_slots_are_free_until_the_window_is_full_then_wait_for_its_oldest(database_url_for: str) -> None:
    store = open_store(database_url_for)
    waits = [store.reserve_rate_slot("account:a", requests=3, per_seconds=60) for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    # The 4th and 5th slots start one window after the 1st and 2nd: within the seconds this test took.
    assert all(59 < wait <= 60 for wait in waits[3:]), waits


def test_rate_slots_are_shared_by_stores_on_one_database_and_kept_per_budget(database_url_for: str) -> None:
    first, second = open_store(database_url_for), open_store(database_url_for)
    assert first.reserve_rate_slot("account:a", requests=2, per_seconds=60) == 0.0
    assert second.reserve_rate_slot("account:a", requests=2, per_seconds=60) == 0.0
    assert first.reserve_rate_slot("account:b", requests=2, per_seconds=60) == 0.0
    assert second.reserve_rate_slot("account:a", requests=2, per_seconds=60) > 59


def test_rate_slots_older_than_the_window_are_forgotten(database_url_for: str) -> None:
    store = open_store(database_url_for)
    first, second = (store.reserve_rate_slot("account:a", requests=1, per_seconds=0.2) for _ in range(2))
    assert first == 0.0 and 0.1 < second <= 0.2
    wait = store.reserve_rate_slot("account:a", requests=1, per_seconds=0.2)
    assert 0.2 < wait <= 0.4  # the 2nd slot starts 0.2 s after the 1st, this 3rd one 0.2 s after the 2nd
    time.sleep(wait + 0.25)
    assert store.reserve_rate_slot("account:a", requests=1, per_seconds=0.2) == 0.0
    rows = _raw(database_url_for, "SELECT COUNT(*) FROM unimeter_rate_slots WHERE budget = ?", ("account:a",))
    assert rows == [(1,)]  # the three spent slots were dropped, only the new one is kept
