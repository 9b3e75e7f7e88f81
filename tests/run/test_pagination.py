"""Every pagination kind end to end through alist_usage: the exact requests, every page's rows, loops and limits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest

from tests.helpers.specs import demo_spec, operation
from unimeter.errors import MaxPagesExceededError, PaginationLoopError
from unimeter.run.pipeline import alist_usage
from unimeter.spec import IntegrationSpec, load_spec

BASE = "https://api.example.com"


def _spec_text(pagination: str, query: str = "{}") -> str:
    """The demo spec reading ``GET /v1/usage`` with ``query`` and ``pagination``."""
    request = f"\n      method: GET\n      path: /v1/usage\n      query: {query}"
    return demo_spec(operation(request, pagination=pagination))


Page = tuple[int, dict[str, str], Any]


def _spec(pagination: str, query: str = "{}") -> IntegrationSpec:
    return load_spec("demo.yaml", text=_spec_text(pagination, query))


def _serve(pages: Sequence[Page] | Callable[[int], Page]) -> tuple[httpx.MockTransport, list[str]]:
    """A transport answering request n with ``pages[n]`` (or ``pages(n)``), recording every URL asked for."""
    urls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        if callable(pages):
            status, headers, body = pages(len(urls) - 1)
        else:
            assert len(urls) <= len(pages), f"unexpected request #{len(urls)}: {request.url}"
            status, headers, body = pages[len(urls) - 1]
        return httpx.Response(status, headers=headers, json=body)

    return httpx.MockTransport(handler), urls


def _run(spec: IntegrationSpec, transport: httpx.MockTransport) -> list[str]:
    response = asyncio.run(alist_usage(spec, transport=transport, keep_remote_data=False))
    assert response["next_cursor"] is None
    return [row["id"] for row in response["result"]]


def _rows(*ids: str) -> list[dict[str, str]]:
    return [{"id": i} for i in ids]


def test_kind_none_makes_one_request_even_when_the_body_mentions_more() -> None:
    transport, urls = _serve([(200, {}, {"data": _rows("a", "b"), "next": "x"})])
    assert _run(_spec("{kind: none}"), transport) == ["a", "b"]
    assert urls == [f"{BASE}/v1/usage"]


def test_cursor_pagination_sends_each_token_until_next_is_null() -> None:
    spec = _spec('{kind: cursor, next: {jsonata: "meta.next"}}', query='{cursor: {jsonata: "$page"}, limit: 2}')
    transport, urls = _serve(
        [
            (200, {}, {"data": _rows("a", "b"), "meta": {"next": "c2"}}),
            (200, {}, {"data": _rows("c", "d"), "meta": {"next": "c3"}}),
            (200, {}, {"data": _rows("e"), "meta": {"next": None}}),
        ]
    )
    assert _run(spec, transport) == ["a", "b", "c", "d", "e"]
    assert urls == [
        f"{BASE}/v1/usage?limit=2",
        f"{BASE}/v1/usage?cursor=c2&limit=2",
        f"{BASE}/v1/usage?cursor=c3&limit=2",
    ]


def test_cursor_pagination_ends_on_empty_token() -> None:
    spec = _spec('{kind: cursor, next: {jsonata: "meta.next"}}', query='{cursor: {jsonata: "$page"}}')
    transport, urls = _serve(
        [
            (200, {}, {"data": _rows("a"), "meta": {"next": "c2"}}),
            (200, {}, {"data": _rows("b"), "meta": {"next": ""}}),
        ]
    )
    assert _run(spec, transport) == ["a", "b"]
    assert urls == [f"{BASE}/v1/usage", f"{BASE}/v1/usage?cursor=c2"]


def test_cursor_pagination_stops_when_stop_holds_even_with_a_token() -> None:
    spec = _spec(
        '{kind: cursor, next: {jsonata: "meta.next"}, stop: {jsonata: "meta.has_more = false"}}',
        query='{cursor: {jsonata: "$page"}}',
    )
    transport, urls = _serve(
        [
            (200, {}, {"data": _rows("a"), "meta": {"next": "c2", "has_more": True}}),
            (200, {}, {"data": _rows("b"), "meta": {"next": "c3", "has_more": False}}),
        ]
    )
    assert _run(spec, transport) == ["a", "b"]
    assert urls == [f"{BASE}/v1/usage", f"{BASE}/v1/usage?cursor=c2"]


def test_cursor_pagination_can_put_the_token_in_the_body() -> None:
    text = _spec_text('{kind: cursor, next: {jsonata: "next_page"}}', "{}").replace(
        "method: GET", 'method: POST\n      body: {page_token: {jsonata: "$page"}, size: 2}'
    )
    spec = load_spec("demo.yaml", text=text)
    bodies: list[bytes] = []
    answers = [{"data": _rows("a"), "next_page": "t2"}, {"data": _rows("b")}]

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(200, json=answers[len(bodies) - 1])

    assert _run(spec, httpx.MockTransport(handler)) == ["a", "b"]
    assert bodies == [b'{"size":2}', b'{"page_token":"t2","size":2}']


def test_next_url_pagination_follows_absolute_and_root_relative_urls() -> None:
    spec = _spec('{kind: next_url, next: {jsonata: "links.next"}}', query="{limit: 2}")
    transport, urls = _serve(
        [
            (200, {}, {"data": _rows("a", "b"), "links": {"next": f"{BASE}/v1/usage?limit=2&after=b"}}),
            (200, {}, {"data": _rows("c", "d"), "links": {"next": "/v1/usage?limit=2&after=d"}}),
            (200, {}, {"data": _rows("e"), "links": {"next": None}}),
        ]
    )
    assert _run(spec, transport) == ["a", "b", "c", "d", "e"]
    assert urls == [f"{BASE}/v1/usage?limit=2", f"{BASE}/v1/usage?limit=2&after=b", f"{BASE}/v1/usage?limit=2&after=d"]


def test_page_pagination_counts_from_start_until_stop_holds() -> None:
    spec = _spec('{kind: page, start: 1, stop: {jsonata: "$not(has_more)"}}', query='{page: {jsonata: "$page"}}')
    transport, urls = _serve(
        [
            (200, {}, {"data": _rows("a", "b"), "has_more": True}),
            (200, {}, {"data": _rows("c", "d"), "has_more": True}),
            (200, {}, {"data": _rows("e"), "has_more": False}),
        ]
    )
    assert _run(spec, transport) == ["a", "b", "c", "d", "e"]
    assert urls == [f"{BASE}/v1/usage?page=1", f"{BASE}/v1/usage?page=2", f"{BASE}/v1/usage?page=3"]


def test_page_pagination_ends_on_a_page_without_records() -> None:
    spec = _spec('{kind: page, start: 0, stop: {jsonata: "false"}}', query='{p: {jsonata: "$page"}}')
    transport, urls = _serve(
        [
            (200, {}, {"data": _rows("a")}),
            (200, {}, {"data": []}),
        ]
    )
    assert _run(spec, transport) == ["a"]
    assert urls == [f"{BASE}/v1/usage?p=0", f"{BASE}/v1/usage?p=1"]


def test_offset_pagination_steps_by_record_count_and_ends_on_a_short_page() -> None:
    spec = _spec("{kind: offset, limit: 2}", query='{offset: {jsonata: "$page"}, limit: 2}')
    transport, urls = _serve(
        [
            (200, {}, {"data": _rows("a", "b")}),
            (200, {}, {"data": _rows("c", "d")}),
            (200, {}, {"data": _rows("e")}),
        ]
    )
    assert _run(spec, transport) == ["a", "b", "c", "d", "e"]
    assert urls == [
        f"{BASE}/v1/usage?offset=0&limit=2",
        f"{BASE}/v1/usage?offset=2&limit=2",
        f"{BASE}/v1/usage?offset=4&limit=2",
    ]


def test_offset_pagination_with_a_full_last_page_asks_once_more_and_stops_on_empty() -> None:
    spec = _spec("{kind: offset, limit: 2}", query='{offset: {jsonata: "$page"}}')
    transport, urls = _serve(
        [
            (200, {}, {"data": _rows("a", "b")}),
            (200, {}, {"data": []}),
        ]
    )
    assert _run(spec, transport) == ["a", "b"]
    assert urls == [f"{BASE}/v1/usage?offset=0", f"{BASE}/v1/usage?offset=2"]


def test_link_header_pagination_follows_rel_next_until_absent() -> None:
    spec = _spec("{kind: link_header}", query="{per_page: 2}")
    transport, urls = _serve(
        [
            (
                200,
                {"Link": f'<{BASE}/v1/usage?per_page=2&page=2>; rel="next", <{BASE}/v1/usage?page=9>; rel="last"'},
                {"data": _rows("a", "b")},
            ),
            (
                200,
                {"Link": f'<{BASE}/v1/usage?page=1>; rel="prev", <{BASE}/v1/usage?per_page=2&page=3>; rel="next"'},
                {"data": _rows("c", "d")},
            ),
            (200, {"Link": f'<{BASE}/v1/usage?page=1>; rel="first"'}, {"data": _rows("e")}),
        ]
    )
    assert _run(spec, transport) == ["a", "b", "c", "d", "e"]
    assert urls == [
        f"{BASE}/v1/usage?per_page=2",
        f"{BASE}/v1/usage?per_page=2&page=2",
        f"{BASE}/v1/usage?per_page=2&page=3",
    ]


def test_cursor_paginator_raises_loop_error_when_cursor_repeats() -> None:
    spec = _spec('{kind: cursor, next: {jsonata: "meta.next"}}', query='{cursor: {jsonata: "$page"}}')
    transport, urls = _serve(
        [
            (200, {}, {"data": _rows("a"), "meta": {"next": "c1"}}),
            (200, {}, {"data": _rows("b"), "meta": {"next": "c2"}}),
            (200, {}, {"data": _rows("c"), "meta": {"next": "c1"}}),
        ]
    )
    with pytest.raises(PaginationLoopError, match="same cursor 'c1' twice"):
        _run(spec, transport)
    assert urls == [f"{BASE}/v1/usage", f"{BASE}/v1/usage?cursor=c1", f"{BASE}/v1/usage?cursor=c2"]


def test_next_url_paginator_raises_loop_error_when_url_repeats() -> None:
    spec = _spec('{kind: next_url, next: {jsonata: "next"}}')
    transport, urls = _serve(
        [
            (200, {}, {"data": _rows("a"), "next": "/v1/usage?after=a"}),
            (200, {}, {"data": _rows("b"), "next": "/v1/usage?after=a"}),
        ]
    )
    with pytest.raises(PaginationLoopError, match="next URL"):
        _run(spec, transport)
    assert urls == [f"{BASE}/v1/usage", f"{BASE}/v1/usage?after=a"]


def test_page_paginator_raises_loop_error_when_vendor_ignores_the_page_number() -> None:
    # The vendor ignores ?page= and always answers page 1, saying there is more: the docs promise a
    # PaginationLoopError ("the same record twice"), not a confusing duplicate-row-id error.
    spec = _spec('{kind: page, stop: {jsonata: "$not(has_more)"}}', query='{page: {jsonata: "$page"}}')
    transport, urls = _serve(lambda n: (200, {}, {"data": _rows("a", "b"), "has_more": True}))
    with pytest.raises(PaginationLoopError, match="the same record twice"):
        _run(spec, transport)
    assert urls == [f"{BASE}/v1/usage?page=1", f"{BASE}/v1/usage?page=2"]


def test_offset_paginator_raises_loop_error_when_vendor_ignores_the_offset() -> None:
    spec = _spec("{kind: offset, limit: 2}", query='{offset: {jsonata: "$page"}}')
    transport, urls = _serve(lambda n: (200, {}, {"data": _rows("a", "b")}))
    with pytest.raises(PaginationLoopError, match="the same record twice"):
        _run(spec, transport)
    assert urls == [f"{BASE}/v1/usage?offset=0", f"{BASE}/v1/usage?offset=2"]


def test_cursor_paginator_raises_loop_error_when_a_new_cursor_restarts_from_the_first_page() -> None:
    # A restart is a token never seen before (the vendor's cursor for offset 0), so only the records give it away.
    spec = _spec('{kind: cursor, next: {jsonata: "next"}}', query='{after: {jsonata: "$page"}}')
    transport, urls = _serve(
        [
            (200, {}, {"data": _rows("a", "b"), "next": "p2"}),
            (200, {}, {"data": _rows("c", "d"), "next": "restart-from-0"}),
            (200, {}, {"data": _rows("a", "b"), "next": "p2-again"}),
        ]
    )
    with pytest.raises(PaginationLoopError, match="the same record twice"):
        _run(spec, transport)
    assert len(urls) == 3


def test_page_paginator_detects_repeated_content_when_rows_are_filtered_out() -> None:
    # Same vendor fault as above, with rows a client-side filter drops, so no duplicate ids can mask the loop.
    text = _spec_text('{kind: page, stop: {jsonata: "$not(has_more)"}}', '{page: {jsonata: "$page"}}').replace(
        "    records:", '    filter: {jsonata: "false"}\n    records:'
    )
    transport, urls = _serve(lambda n: (200, {}, {"data": _rows("a"), "has_more": True}))
    with pytest.raises(PaginationLoopError, match="the same record twice"):
        _run(load_spec("demo.yaml", text=text), transport)
    assert urls == [f"{BASE}/v1/usage?page=1", f"{BASE}/v1/usage?page=2"]


def test_link_header_paginator_raises_loop_error_when_next_link_repeats() -> None:
    spec = _spec("{kind: link_header}")
    link = {"Link": f'<{BASE}/v1/usage?page=2>; rel="next"'}
    transport, urls = _serve([(200, link, {"data": _rows("a")}), (200, link, {"data": _rows("b")})])
    with pytest.raises(PaginationLoopError, match="Link next URL"):
        _run(spec, transport)
    assert urls == [f"{BASE}/v1/usage", f"{BASE}/v1/usage?page=2"]


def test_max_pages_exceeded_is_an_error_not_a_silent_truncation() -> None:
    spec = _spec('{kind: cursor, next: {jsonata: "next"}, max_pages: 3}', query='{cursor: {jsonata: "$page"}}')
    transport, urls = _serve(lambda n: (200, {}, {"data": _rows(f"r{n}"), "next": f"c{n + 1}"}))
    with pytest.raises(MaxPagesExceededError, match="max_pages=3") as caught:
        _run(spec, transport)
    assert caught.value.details["max_pages"] == 3
    assert urls == [f"{BASE}/v1/usage", f"{BASE}/v1/usage?cursor=c1", f"{BASE}/v1/usage?cursor=c2"]


def test_max_pages_equal_to_the_page_count_completes() -> None:
    spec = _spec('{kind: page, stop: {jsonata: "$not(has_more)"}, max_pages: 2}', query='{page: {jsonata: "$page"}}')
    transport, urls = _serve(
        [
            (200, {}, {"data": _rows("a"), "has_more": True}),
            (200, {}, {"data": _rows("b"), "has_more": False}),
        ]
    )
    assert _run(spec, transport) == ["a", "b"]
    assert len(urls) == 2


def test_max_pages_applies_to_offset_pagination() -> None:
    spec = _spec("{kind: offset, limit: 1, max_pages: 2}", query='{offset: {jsonata: "$page"}}')
    transport, urls = _serve(lambda n: (200, {}, {"data": _rows(f"r{n}")}))
    with pytest.raises(MaxPagesExceededError):
        _run(spec, transport)
    assert urls == [f"{BASE}/v1/usage?offset=0", f"{BASE}/v1/usage?offset=1"]
