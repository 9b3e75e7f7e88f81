"""API tokens: a name and an expiry, listed without secrets, revoked, expiry only brought forward through the API,
and stores made before tokens had these columns are upgraded in place. SQLite and PostgreSQL alike; the CLI too."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.helpers.paths import PROJECT
from unimeter.errors import ApiTokenError, InvalidParameterError, TokenNotFoundError
from unimeter.store import Store, open_store
from unimeter.store.secrets import hash_api_token


@pytest.fixture(autouse=True)
def _private_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("UNIMETER_SECRET_KEY", raising=False)
    monkeypatch.delenv("UNIMETER_DATABASE_URL", raising=False)


def _sql(url: str, sql: str) -> None:
    if url.startswith("sqlite://"):
        with closing(sqlite3.connect(url.removeprefix("sqlite://"))) as connection, connection:
            connection.executescript(sql)
        return
    with psycopg.connect(url) as connection:
        connection.execute(sql)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'store.db'}"
    postgres: str = request.getfixturevalue("postgres_url")
    _sql(postgres, "DROP TABLE IF EXISTS unimeter_api_tokens")
    return postgres


@pytest.fixture
def store(url: str) -> Store:
    return open_store(url)


def test_a_token_has_an_id_a_name_and_an_expiry_and_is_listed_without_its_secret(store: Store) -> None:
    expires = datetime.now(UTC) + timedelta(days=30)
    token, record = store.issue_token(environment="prod", name="ci pipeline", expires_at=expires)
    assert record.id == "tok_" + hash_api_token(token)[:16]
    store.create_token(environment="dev")
    listed = store.list_tokens("prod")
    assert [(t.id, t.name, t.expires_at, t.revoked_at) for t in listed] == [(record.id, "ci pipeline", expires, None)]
    shown = json.dumps([t.to_public(datetime.now(UTC)) for t in store.list_tokens()])
    assert token not in shown and hash_api_token(token) not in shown
    assert listed[0].to_public(datetime.now(UTC))["status"] == "active"
    assert store.resolve_token(token) == "prod"


def test_a_revoked_token_stops_working_and_says_so(store: Store) -> None:
    token, record = store.issue_token(environment="prod")
    revoked = store.revoke_token(record.id, environment="prod")
    assert revoked.revoked_at is not None and revoked.to_public(datetime.now(UTC))["status"] == "revoked"
    with pytest.raises(ApiTokenError, match=rf"the API token {record.id} was revoked"):
        store.resolve_token(token)
    assert store.revoke_token(record.id, environment="prod").revoked_at == revoked.revoked_at  # idempotent
    assert store.list_tokens("prod")[0].revoked_at == revoked.revoked_at


def test_an_expired_token_stops_working_and_says_when(store: Store) -> None:
    token, record = store.issue_token(environment="prod", expires_at=datetime.now(UTC) + timedelta(seconds=0.3))
    assert store.resolve_token(token) == "prod"
    time.sleep(0.4)
    with pytest.raises(ApiTokenError, match=rf"the API token {record.id} expired at 20"):
        store.resolve_token(token)
    assert store.list_tokens("prod")[0].to_public(datetime.now(UTC))["status"] == "expired"


def test_tokens_of_another_environment_or_unknown_ids_are_not_found(store: Store) -> None:
    _, record = store.issue_token(environment="prod")
    for token_id, environment in ((record.id, "dev"), ("tok_0000000000000000", "prod"), ("nonsense", "prod")):
        with pytest.raises(TokenNotFoundError):
            store.revoke_token(token_id, environment=environment)
    assert store.list_tokens("prod")[0].revoked_at is None


def test_through_the_api_an_expiry_can_only_be_brought_forward(store: Store) -> None:
    now = datetime.now(UTC)
    token, record = store.issue_token(environment="prod", expires_at=now + timedelta(days=30))
    earlier = store.set_token_expiry(
        record.id, environment="prod", expires_at=now + timedelta(days=1), only_earlier=True
    )
    assert earlier.expires_at == now + timedelta(days=1)
    with pytest.raises(InvalidParameterError, match="can only be brought forward") as caught:
        store.set_token_expiry(record.id, environment="prod", expires_at=now + timedelta(days=60), only_earlier=True)
    assert caught.value.details["parameter"] == "expires_at"
    # The operator (the CLI passes only_earlier=False) may extend it.
    later = store.set_token_expiry(record.id, environment="prod", expires_at=now + timedelta(days=60))
    assert store.list_tokens("prod")[0].expires_at == later.expires_at == now + timedelta(days=60)
    with pytest.raises(InvalidParameterError, match="not in the future; to end a token now, revoke it"):
        store.set_token_expiry(record.id, environment="prod", expires_at=now - timedelta(seconds=1))
    with pytest.raises(InvalidParameterError, match="time zone"):
        store.issue_token(environment="prod", expires_at=datetime(2030, 1, 1))  # a naive datetime
    assert store.resolve_token(token) == "prod"


def test_a_store_from_before_token_expiry_is_upgraded_and_its_tokens_keep_working(url: str) -> None:
    token = "umt_an-old-token-made-before-expiry-existed"
    _sql(url, "DROP TABLE IF EXISTS unimeter_api_tokens")
    _sql(
        url,
        "CREATE TABLE unimeter_api_tokens (token_hash TEXT PRIMARY KEY, environment TEXT NOT NULL, "
        "created_at TEXT NOT NULL)",
    )
    _sql(
        url,
        f"INSERT INTO unimeter_api_tokens VALUES ('{hash_api_token(token)}', 'prod', '2026-01-01T00:00:00.000000Z')",
    )
    store = open_store(url)
    assert store.resolve_token(token) == "prod"
    [old] = store.list_tokens("prod")
    assert (old.name, old.expires_at, old.revoked_at) == (None, None, None)
    store.revoke_token(old.id, environment="prod")
    with pytest.raises(ApiTokenError):
        open_store(url).resolve_token(token)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "unimeter.cli", *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60
    )


def test_the_cli_creates_lists_expires_and_revokes_tokens(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    db = ("--database", f"sqlite://{tmp_path / 'cli.db'}")
    created = _cli("tokens", "create", "--environment", "prod", "--name", "nightly", "--expires", "90d", *db, env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert created.stdout == token + "\n"  # the token alone, for $(...)
    [listed] = json.loads(_cli("tokens", "list", "--environment", "prod", *db, env=env).stdout)
    assert listed["id"] in created.stderr and "expires at 20" in created.stderr
    assert (listed["name"], listed["status"]) == ("nightly", "active")
    expires = datetime.fromisoformat(listed["expires_at"])
    assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)
    assert token not in json.dumps(listed)

    at = ("--at", "2030-01-01T00:00:00Z")
    moved = _cli("tokens", "expire", listed["id"], "--environment", "prod", *at, *db, env=env)
    assert json.loads(moved.stdout)["expires_at"] == "2030-01-01T00:00:00.000000Z", moved.stderr
    wrong = _cli("tokens", "expire", listed["id"], "--environment", "prod", "--at", "soon", *db, env=env)
    assert wrong.returncode == 1
    assert json.loads(wrong.stderr)["details"] == {"parameter": "at"}

    revoked = _cli("tokens", "revoke", listed["id"], "--environment", "prod", *db, env=env)
    assert json.loads(revoked.stdout)["status"] == "revoked"
    with pytest.raises(ApiTokenError, match="revoked"):
        open_store(db[1], key_file=tmp_path / "data" / "unimeter" / "secret.key").resolve_token(token)
    foreign = _cli("tokens", "revoke", listed["id"], "--environment", "dev", *db, env=env)
    assert foreign.returncode == 1 and json.loads(foreign.stderr)["error"] == "token_not_found"
