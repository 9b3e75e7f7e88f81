"""Read a ``stream`` response: NDJSON rows, then one last line that says how it ended."""

from __future__ import annotations

import json
from typing import Any


def stream_lines(text: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows and the last line (``{"end": {"rows": N}}`` or ``{"error": ..., "next_cursor": ...}``)."""
    assert text.endswith("\n"), "a stream's lines each end with a newline"
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines, "a stream always ends with a line that says how it ended"
    *rows, last = lines
    assert set(last) in ({"end"}, {"error", "next_cursor", "rows"}, {"error", "rows"}), last
    assert last.get("end", last)["rows"] == len(rows), f"the last line counts {last} but {len(rows)} rows came"
    return rows, last


def stream_rows(text: str) -> list[dict[str, Any]]:
    """The rows of a stream that completed (its last line is ``{"end": {"rows": N}}`` with N its row count)."""
    rows, last = stream_lines(text)
    assert "end" in last, f"the stream did not complete: {last}"
    return rows
