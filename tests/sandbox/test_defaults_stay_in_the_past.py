"""No default reaches past now: a query with no parameters returns no row for a period that has not begun, on the
first day of a month (where "the rest of this month" is all future) and in the middle of one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from unimeter.run.pipeline import alist_usage
from unimeter.sandbox import SIMULATORS, SandboxConfig, account_fields, start_sandbox
from unimeter.spec.functions import parse_instant

MOMENTS = [datetime(2026, 12, 1, 9, tzinfo=UTC), datetime(2026, 11, 16, 12, tzinfo=UTC)]


@pytest.mark.parametrize("now", MOMENTS, ids=lambda moment: moment.date().isoformat())
@pytest.mark.parametrize("name", sorted(SIMULATORS))
def test_default_parameters_return_no_row_that_starts_after_now(name: str, now: datetime) -> None:
    config = SandboxConfig(users=3, organizations=2, resources=2, now=now)
    with start_sandbox([name], config) as sandbox:
        endpoint = sandbox.endpoint(name)
        result = asyncio.run(
            alist_usage(
                name,
                **account_fields(endpoint),
                now=now,
            )
        )
    rows = result["result"]
    future = [row["id"] for row in rows if parse_instant(row["start_date"]) > now]
    assert future == [], f"{len(future)} of {len(rows)} rows start after {now.isoformat()}: {future[:3]}"
