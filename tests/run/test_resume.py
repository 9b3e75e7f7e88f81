"""Resuming in the middle of a vendor page: exact continuation, and earlier records are not transformed again."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import unimeter.run.records
from tests.helpers.specs import demo_spec, operation
from unimeter.api.list_usage import take
from unimeter.run.pipeline import ResumePoint, iter_pages
from unimeter.spec import load_spec

SPEC = demo_spec(
    operation(
        " {method: GET, path: /items}",
        name="items",
        records='{jsonata: "items"}',
        transform="{jsonata: \"[{'id': name & ':a'}, {'id': name & ':b'}, {'id': name & ':c'}]\"}",
    ),
    fills="[id, remote_data]",
    base_url="https://vendor.example",
)


def _read_all(limit: int) -> tuple[list[str], int]:
    spec = load_spec("demo.yaml", SPEC)
    body = {"items": [{"name": f"r{i}"} for i in range(10)]}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    ids: list[str] = []
    start: ResumePoint | None = None
    responses = 0
    while True:
        result = asyncio.run(take(iter_pages(spec, transport=transport, start=start, row_budget=limit + 1), limit))
        ids.extend(row["id"] for row in result.rows)
        responses += 1
        if result.resume is None:
            return ids, responses
        start = result.resume


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 7, 29, 30, 31])
def test_every_limit_reads_each_row_exactly_once_across_split_records(limit: int) -> None:
    ids, responses = _read_all(limit)
    assert ids == [f"r{i}:{suffix}" for i in range(10) for suffix in "abc"]
    assert responses == -(-30 // limit)  # next_cursor is null exactly when nothing is left


def test_a_resumed_response_does_not_transform_the_records_already_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    validated: list[Any] = []
    original = unimeter.run.records.validate_row

    def counting(row: dict[str, Any], **kwargs: Any) -> None:
        validated.append(row["id"])
        original(row, **kwargs)

    monkeypatch.setattr(unimeter.run.records, "validate_row", counting)
    ids, responses = _read_all(2)
    assert responses == 15
    # Each response transforms from the first record it has not fully returned: at most one record (3 rows) is
    # made again per response, instead of the whole page every time (15 x 30 = 450 rows).
    assert len(validated) <= len(ids) + 3 * responses


@pytest.mark.parametrize("limit", [1, 2, 5, 7, 30])
def test_large_pages_come_in_chunks_of_whole_records_and_resume_exactly(
    monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    import unimeter.run.pipeline

    monkeypatch.setattr(unimeter.run.pipeline, "CHUNK_ROWS", 4)
    spec = load_spec("demo.yaml", SPEC)
    body = {"items": [{"name": f"r{i}"} for i in range(10)]}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))

    async def chunk_sizes() -> list[list[str]]:
        return [[row["id"] for row in page.rows] async for page in iter_pages(spec, transport=transport)]

    chunks = asyncio.run(chunk_sizes())
    # 3 rows per record, chunks of at least 4 rows cut between records: 6, 6, 6, 6, 6.
    assert [len(chunk) for chunk in chunks] == [6, 6, 6, 6, 6]
    assert all(chunk[0].endswith(":a") and chunk[-1].endswith(":c") for chunk in chunks)
    ids, _ = _read_all(limit)
    assert ids == [f"r{i}:{suffix}" for i in range(10) for suffix in "abc"]
