"""The request a simulator sees and the response it gives, independent of the HTTP server underneath."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass
class SimRequest:
    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes = b""

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class SimResponse:
    """A status, headers and a body given as bytes or as an iterator of chunks (large pages stream)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""

    def chunks(self) -> Iterator[bytes]:
        if isinstance(self.body, bytes):
            yield self.body
        else:
            yield from self.body


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> SimResponse:
    return SimResponse(
        status,
        {"content-type": "application/json", **(headers or {})},
        json.dumps(data, separators=(",", ":")).encode("utf-8"),
    )


def streamed_json(
    prefix: str, items: Iterable[Any], suffix: str, headers: dict[str, str] | None = None, status: int = 200
) -> SimResponse:
    """``prefix + item,item,... + suffix`` encoded lazily: a page of many thousand rows is never one big string."""

    def generate() -> Iterator[bytes]:
        yield prefix.encode("utf-8")
        first = True
        batch: list[str] = []
        for item in items:
            batch.append(("" if first else ",") + json.dumps(item, separators=(",", ":")))
            first = False
            if len(batch) >= 500:
                yield "".join(batch).encode("utf-8")
                batch = []
        if batch:
            yield "".join(batch).encode("utf-8")
        yield suffix.encode("utf-8")

    return SimResponse(status, {"content-type": "application/json", **(headers or {})}, generate())
