"""``POST /integrated-accounts`` with an ``Idempotency-Key``: a retried request makes no second account, whether the
retries come one after another or all at once, on SQLite or PostgreSQL; another body under the same key is a 422;
the key is remembered without the credentials the body carried."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import jsonschema
import psycopg

from tests.helpers.service_helpers import CURSOR_KEY
from unimeter.service import UsageService, create_app
from unimeter.service.openapi import ACCOUNT_SCHEMA, ERROR_SCHEMA
from unimeter.store import Store, open_store

SECRET = "cursor-SECRET-idempotent-4242"
BODY = {"integration": "cursor", "credentials": {"api_key": SECRET}}


def _raw_rows(url: str) -> list[tuple[Any, ...]]:
    sql = "SELECT * FROM unimeter_idempotency_keys"
    if url.startswith("sqlite://"):
        with closing(sqlite3.connect(url.removeprefix("sqlite://"))) as connection:
            return connection.execute(sql).fetchall()
    with psycopg.connect(url) as connection:
        return connection.execute(sql).fetchall()


def _run(store: Store, token: str, scenario: Any) -> Any:
    async def main() -> Any:
        app = create_app(UsageService(store, CURSOR_KEY))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test",
            headers={"authorization": f"Bearer {token}"},
        ) as client:
            return await scenario(client)

    return asyncio.run(main())


def _environment(store: Store) -> tuple[str, str]:
    """A fresh environment of its own (the PostgreSQL database is shared by the session) and its token."""
    environment = f"idem-{uuid4().hex[:12]}"
    return environment, store.create_token(environment=environment)


def test_a_retried_create_is_answered_with_the_first_account(store_url: str, tmp_path: Path) -> None:
    store = open_store(store_url, key_file=tmp_path / "secret.key")
    environment, token = _environment(store)

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        key = {"idempotency-key": "3f1c2a9e-retry-1"}
        return [
            await client.post("/integrated-accounts", json=BODY, headers=key),
            await client.post("/integrated-accounts", json=BODY, headers=key),
            await client.post("/integrated-accounts", json={**BODY, "context": {"x": 1}}, headers=key),
            await client.post("/integrated-accounts", json=BODY),
        ]

    first, retry, other_body, no_key = _run(store, token, scenario)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    jsonschema.validate(retry.json(), ACCOUNT_SCHEMA)
    assert other_body.status_code == 422, other_body.text
    jsonschema.validate(other_body.json(), ERROR_SCHEMA)
    assert other_body.json()["error"] == "idempotency_key_reused"
    assert other_body.json()["details"] == {"parameter": "Idempotency-Key"}
    assert no_key.status_code == 201 and no_key.json()["id"] != first.json()["id"]
    ids = sorted(str(a.id) for a in store.list_accounts(environment))
    assert ids == sorted([first.json()["id"], no_key.json()["id"]])
    assert SECRET not in repr(_raw_rows(store_url))


def test_concurrent_requests_with_one_key_make_one_account(store_url: str, tmp_path: Path) -> None:
    store = open_store(store_url, key_file=tmp_path / "secret.key")
    environment, token = _environment(store)

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        key = {"idempotency-key": "concurrent-key-7"}
        return list(
            await asyncio.gather(*(client.post("/integrated-accounts", json=BODY, headers=key) for _ in range(8)))
        )

    responses = _run(store, token, scenario)
    assert [r.status_code for r in responses] == [201] * 8
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(1 for r in responses if r.headers.get("idempotent-replayed") == "true") == 7
    assert [str(a.id) for a in store.list_accounts(environment)] == [responses[0].json()["id"]]


def test_a_refused_create_is_not_remembered_and_keys_are_per_environment(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path / 'store.db'}", key_file=tmp_path / "secret.key")
    token, other_token = store.create_token(environment="prod"), store.create_token(environment="staging")

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        key = {"idempotency-key": "shared-key"}
        return [
            await client.post("/integrated-accounts", json={"integration": "cursor"}, headers=key),
            await client.post("/integrated-accounts", json=BODY, headers=key),
            await client.post(
                "/integrated-accounts", json=BODY, headers={**key, "authorization": f"Bearer {other_token}"}
            ),
            await client.post("/integrated-accounts", json=BODY, headers={"idempotency-key": "x" * 256}),
            await client.post("/integrated-accounts", json=BODY, headers={"idempotency-key": "has space"}),
        ]

    refused, created, other_environment, too_long, spaced = _run(store, token, scenario)
    assert refused.status_code == 400
    assert created.status_code == 201 and "idempotent-replayed" not in created.headers
    assert other_environment.status_code == 201 and "idempotent-replayed" not in other_environment.headers
    assert other_environment.json()["environment"] == "staging"
    for bad in (too_long, spaced):
        assert bad.status_code == 400 and bad.json()["details"] == {"parameter": "Idempotency-Key"}
    assert len(store.list_accounts("prod")) == 1
