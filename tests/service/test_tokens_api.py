"""``/api-tokens`` over HTTP: a token lists its environment's tokens (no secrets, as described in /openapi.json),
revokes one (which then gets a 401 that says why, with WWW-Authenticate), and can bring an expiry forward but never
push it back; nothing of another environment is visible or reachable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jsonschema

from tests.helpers.service_helpers import ENVIRONMENT, USAGE, make_harness
from unimeter.service.openapi import ERROR_SCHEMA, TOKEN_SCHEMA, openapi_document


def test_the_document_describes_the_tokens_operations() -> None:
    paths = openapi_document()["paths"]
    assert set(paths["/api-tokens"]) == {"get"}
    assert {"patch", "delete"} <= set(paths["/api-tokens/{token_id}"])
    assert openapi_document()["components"]["schemas"]["ApiToken"] == TOKEN_SCHEMA


def test_list_revoke_and_the_revoked_token_is_refused(tmp_path: Path) -> None:
    harness = make_harness(tmp_path)
    spare, spare_record = harness.store.issue_token(environment=ENVIRONMENT, name="spare")
    [own] = [t for t in harness.store.list_tokens(ENVIRONMENT) if t.id != spare_record.id]
    [foreign] = harness.store.list_tokens("staging")

    async def scenario(client: httpx.AsyncClient) -> dict[str, httpx.Response]:
        return {
            "listed": await client.get("/api-tokens"),
            "foreign": await client.delete(f"/api-tokens/{foreign.id}"),
            "revoked": await client.delete(f"/api-tokens/{spare_record.id}"),
            "with_revoked": await client.get("/integrated-accounts", headers={"authorization": f"Bearer {spare}"}),
            "usage_with_revoked": await client.get(
                USAGE, params={"integrated_account_id": "x"}, headers={"authorization": f"Bearer {spare}"}
            ),
            "still_works": await client.get("/api-tokens"),
        }

    answers = harness.run(scenario)
    listed = answers["listed"].json()["result"]
    assert sorted(t["id"] for t in listed) == sorted([own.id, spare_record.id])
    for token in listed:
        jsonschema.validate(token, TOKEN_SCHEMA)
    assert spare not in answers["listed"].text and harness.token not in answers["listed"].text
    assert answers["foreign"].status_code == 404
    jsonschema.validate(answers["foreign"].json(), ERROR_SCHEMA)
    assert answers["revoked"].status_code == 200 and answers["revoked"].json()["status"] == "revoked"
    for name in ("with_revoked", "usage_with_revoked"):
        refused = answers[name]
        assert refused.status_code == 401, refused.text
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert f"the API token {spare_record.id} was revoked" in refused.json()["message"]
    assert answers["still_works"].status_code == 200
    assert harness.store.list_tokens("staging")[0].revoked_at is None


def test_an_expiry_can_be_brought_forward_but_never_pushed_back(tmp_path: Path) -> None:
    harness = make_harness(tmp_path)
    now = datetime.now(UTC)
    _, record = harness.store.issue_token(environment=ENVIRONMENT, expires_at=now + timedelta(days=30))

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        path = f"/api-tokens/{record.id}"
        return [
            await client.patch(path, json={"expires_at": "7d"}),
            await client.patch(path, json={"expires_at": (now + timedelta(days=90)).isoformat()}),
            await client.patch(path, json={"expires_at": "2020-01-01T00:00:00Z"}),
            await client.patch(path, json={"expires_at": "whenever"}),
            await client.patch(path, json={"expires_at": None}),
            await client.patch(path, content=b"{"),
        ]

    earlier, later, past, garbage, removed, broken = harness.run(scenario)
    assert earlier.status_code == 200, earlier.text
    moved = datetime.fromisoformat(earlier.json()["expires_at"])
    assert timedelta(days=6) < moved - now <= timedelta(days=7, seconds=5)
    for refused in (later, past, garbage, removed, broken):
        assert refused.status_code == 400, refused.text
        jsonschema.validate(refused.json(), ERROR_SCHEMA)
    assert "can only be brought forward" in later.json()["message"]
    assert "revoke it" in past.json()["message"]
    assert [t.expires_at for t in harness.store.list_tokens(ENVIRONMENT) if t.id == record.id] == [moved]
