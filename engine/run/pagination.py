"""Compute the next page from a response, per pagination kind. A table from kind to paginator class.

As in the Singer SDK, a paginator only decides what comes next, and keeps that token itself: it starts at
:meth:`Paginator.first` (or at a resumed state), and :meth:`Paginator.advance` reads one response and moves to the
next page or reports the end. A next URL from the body or the ``Link`` header is resolved here, against the URL just
requested (RFC 8288, RFC 3986), so no other stage joins URLs. The pipeline sends the requests. Every kind is
bounded by ``max_pages`` and detects loops: the same cursor or URL twice, or a page that starts with a record met
before (a vendor that ignores the page parameter, or whose cursor restarts from the first page), ends the run with a
typed error rather than spinning, duplicating or silently truncating.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import orjson

from ..errors import MaxPagesExceededError, PaginationLoopError
from ..spec.model import PaginationSpec
from ..spec.scope import Scope


@dataclass(frozen=True)
class PageState:
    """What the next request needs: ``$page`` for the templates, or a URL to request as is."""

    page: Any = None
    next_url: str | None = None


@dataclass(frozen=True)
class PageResponse:
    """What a paginator reads of one response: the URL it answered, its headers, its parsed body, how many records
    it held and the first of them (``None`` when it held none)."""

    url: str
    headers: Mapping[str, str]
    body: Any
    record_count: int
    first_record: Any = None


class Paginator:
    """Base: one page only. ``state`` is the page about to be (or just) requested; None once the last was read."""

    def __init__(self, spec: PaginationSpec, start: PageState | None = None, seen: Iterable[str] = ()) -> None:
        self.spec = spec
        self.state: PageState | None = start if start is not None else self.first()
        self.pages_read = 0
        self._seen: set[str] = set(seen)

    @property
    def seen(self) -> tuple[str, ...]:
        """Digests of every cursor, URL or page-opening record met so far: a continued query carries them on (in its
        ``next_cursor``), so a vendor that loops across two responses is caught as within one."""
        return tuple(sorted(self._seen))

    def first(self) -> PageState:
        return PageState()

    def advance(self, response: PageResponse, scope: Scope) -> PageState | None:
        """Move to the page after ``response`` and return it, or None when the last page has been read.

        ``scope`` is the page's scope; the ``stop`` and ``next`` expressions also see ``$headers``.
        """
        assert self.state is not None, "advance() after the last page"
        self.pages_read += 1
        following = self._next(response, scope.at(headers=response.headers))
        if following is not None:
            self._remember_records(response)
        if following is not None and following.next_url is not None:
            following = PageState(following.page, urljoin(response.url, following.next_url))
        if following is not None and self.pages_read >= self.spec.max_pages:
            raise MaxPagesExceededError(
                f"pagination did not finish within max_pages={self.spec.max_pages}; "
                "raise max_pages in the mapping if the vendor really has more pages",
                max_pages=self.spec.max_pages,
            )
        self.state = following
        return following

    def _next(self, response: PageResponse, scope: Scope) -> PageState | None:
        return None

    def _remember(self, key: str, what: str) -> None:
        key = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
        if key in self._seen:
            raise PaginationLoopError(
                f"pagination is looping: the vendor returned the same {what} twice", repeated=what, isLooping=True
            )
        self._seen.add(key)

    def _remember_records(self, response: PageResponse) -> None:
        """A page that starts with a record met before: the vendor went back (a page number it ignored, or a cursor
        that restarts from the first page: a new token, but the same records), and its rows would come again.

        Only the first record is digested: cheap on pages of thousands, and enough, because a record that comes twice
        is a duplicate whatever else its page holds (ids say what was measured, so two equal records are one row).
        """
        if response.first_record is None:
            return
        try:
            text = orjson.dumps(response.first_record, option=orjson.OPT_SORT_KEYS).decode()
        except orjson.JSONEncodeError:  # e.g. an integer past 64 bits, which the stdlib writes
            text = json.dumps(response.first_record, sort_keys=True, default=str)
        self._remember(text, "record")

    def _stop(self, response: PageResponse, scope: Scope) -> bool:
        return self.spec.stop is not None and bool(self.spec.stop.evaluate(response.body, scope))


class CursorPaginator(Paginator):
    """A token read from the body; the templates put ``$page`` where the vendor wants it."""

    def _next(self, response: PageResponse, scope: Scope) -> PageState | None:
        assert self.spec.next is not None
        token = self.spec.next.evaluate(response.body, scope)
        if token in (None, "", False) or self._stop(response, scope):
            return None
        self._remember(json.dumps(token, sort_keys=True), f"cursor {str(token)[:40]!r}")
        return PageState(page=token)


class NextUrlPaginator(Paginator):
    """An absolute or relative URL read from the body, requested as is."""

    def _next(self, response: PageResponse, scope: Scope) -> PageState | None:
        assert self.spec.next is not None
        url = self.spec.next.evaluate(response.body, scope)
        if not url or self._stop(response, scope):
            return None
        self._remember(str(url), "next URL")
        return PageState(next_url=str(url))


class _ContentLoopMixin(Paginator):
    def _current_page(self) -> int:
        assert self.state is not None
        page: int = self.state.page
        return page


class PageNumberPaginator(_ContentLoopMixin):
    """1-based (or ``start``-based) page numbers, until ``stop`` holds or a page has no records."""

    def first(self) -> PageState:
        return PageState(page=self.spec.start)

    def _next(self, response: PageResponse, scope: Scope) -> PageState | None:
        if response.record_count == 0 or self._stop(response, scope):
            return None
        return PageState(page=self._current_page() + 1)


class OffsetPaginator(_ContentLoopMixin):
    """Offsets in steps of ``limit``; a short page or ``stop`` ends."""

    def first(self) -> PageState:
        return PageState(page=self.spec.start)

    def _next(self, response: PageResponse, scope: Scope) -> PageState | None:
        assert self.spec.limit is not None
        if response.record_count < self.spec.limit or self._stop(response, scope):
            return None
        return PageState(page=self._current_page() + response.record_count)


_LINK_NEXT = re.compile(r'<([^>]+)>\s*;[^,]*rel="?next"?', re.IGNORECASE)


class LinkHeaderPaginator(Paginator):
    """The ``rel="next"`` URL of the ``Link`` response header (RFC 8288)."""

    def _next(self, response: PageResponse, scope: Scope) -> PageState | None:
        match = _LINK_NEXT.search(response.headers.get("link", ""))
        if not match or self._stop(response, scope):
            return None
        self._remember(match.group(1), "Link next URL")
        return PageState(next_url=match.group(1))


PAGINATORS: dict[str, type[Paginator]] = {
    "none": Paginator,
    "cursor": CursorPaginator,
    "next_url": NextUrlPaginator,
    "page": PageNumberPaginator,
    "offset": OffsetPaginator,
    "link_header": LinkHeaderPaginator,
}


def make_paginator(spec: PaginationSpec, start: PageState | None = None, seen: Iterable[str] = ()) -> Paginator:
    """The paginator of ``spec``, at its first page or at ``start`` with the digests ``seen`` (a resumed query)."""
    return PAGINATORS[spec.kind](spec, start, seen)
