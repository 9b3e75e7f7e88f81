"""Compute the next page from a response, per pagination kind. A table from kind to paginator class.

As in the Singer SDK, a paginator only decides what comes next; the pipeline sends the requests. Every kind is
bounded by ``max_pages`` and detects loops: the same cursor or URL twice, or (for page and offset kinds, where the
vendor might ignore the page parameter) the same page content twice, ends the run with a typed error rather than
spinning or silently truncating.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from .errors import MaxPagesExceededError, PaginationLoopError
from .spec import PaginationSpec


@dataclass(frozen=True)
class PageState:
    """What the next request needs: ``$page`` for the templates, or a URL to request as is."""

    page: Any = None
    next_url: str | None = None


class Paginator:
    """Base: one page only."""

    def __init__(self, spec: PaginationSpec) -> None:
        self.spec = spec
        self.pages_read = 0
        self._seen: set[str] = set()
        self.is_looping = False

    def first(self) -> PageState:
        return PageState()

    def advance(self, body: Any, headers: dict[str, str], record_count: int,
                bindings: dict[str, Any]) -> PageState | None:
        """The state of the next page, or None when the last page has been read."""
        self.pages_read += 1
        following = self._next(body, headers, record_count, bindings)
        if following is not None and self.pages_read >= self.spec.max_pages:
            raise MaxPagesExceededError(
                f"pagination did not finish within max_pages={self.spec.max_pages}; "
                "raise max_pages in the mapping if the vendor really has more pages",
                max_pages=self.spec.max_pages)
        return following

    def _next(self, body: Any, headers: dict[str, str], record_count: int,
              bindings: dict[str, Any]) -> PageState | None:
        return None

    def _remember(self, key: str, what: str) -> None:
        if key in self._seen:
            self.is_looping = True
            raise PaginationLoopError(f"pagination is looping: the vendor returned the same {what} twice",
                                      repeated=what, isLooping=True)
        self._seen.add(key)

    def _stop(self, body: Any, bindings: dict[str, Any]) -> bool:
        return self.spec.stop is not None and bool(self.spec.stop.evaluate(body, bindings))


class CursorPaginator(Paginator):
    """A token read from the body; the templates put ``$page`` where the vendor wants it."""

    def _next(self, body: Any, headers: dict[str, str], record_count: int,
              bindings: dict[str, Any]) -> PageState | None:
        assert self.spec.next is not None
        token = self.spec.next.evaluate(body, bindings)
        if token in (None, "", False) or self._stop(body, bindings):
            return None
        self._remember(json.dumps(token, sort_keys=True), f"cursor {str(token)[:40]!r}")
        return PageState(page=token)


class NextUrlPaginator(Paginator):
    """An absolute or relative URL read from the body, requested as is."""

    def _next(self, body: Any, headers: dict[str, str], record_count: int,
              bindings: dict[str, Any]) -> PageState | None:
        assert self.spec.next is not None
        url = self.spec.next.evaluate(body, bindings)
        if not url or self._stop(body, bindings):
            return None
        self._remember(str(url), "next URL")
        return PageState(next_url=str(url))


class _ContentLoopMixin(Paginator):
    def _remember_content(self, body: Any) -> None:
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
        self._remember(digest, "page content")


class PageNumberPaginator(_ContentLoopMixin):
    """1-based (or ``start``-based) page numbers, until ``stop`` holds or a page has no records."""

    def first(self) -> PageState:
        return PageState(page=self.spec.start)

    def _next(self, body: Any, headers: dict[str, str], record_count: int,
              bindings: dict[str, Any]) -> PageState | None:
        if record_count == 0 or self._stop(body, bindings):
            return None
        self._remember_content(body)
        return PageState(page=bindings["page"] + 1)


class OffsetPaginator(_ContentLoopMixin):
    """Offsets in steps of ``limit``; a short page or ``stop`` ends."""

    def first(self) -> PageState:
        return PageState(page=self.spec.start)

    def _next(self, body: Any, headers: dict[str, str], record_count: int,
              bindings: dict[str, Any]) -> PageState | None:
        assert self.spec.limit is not None
        if record_count < self.spec.limit or self._stop(body, bindings):
            return None
        self._remember_content(body)
        return PageState(page=bindings["page"] + record_count)


_LINK_NEXT = re.compile(r'<([^>]+)>\s*;[^,]*rel="?next"?', re.IGNORECASE)


class LinkHeaderPaginator(Paginator):
    """The ``rel="next"`` URL of the ``Link`` response header (RFC 8288)."""

    def _next(self, body: Any, headers: dict[str, str], record_count: int,
              bindings: dict[str, Any]) -> PageState | None:
        match = _LINK_NEXT.search(headers.get("link", ""))
        if not match or self._stop(body, bindings):
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


def make_paginator(spec: PaginationSpec) -> Paginator:
    return PAGINATORS[spec.kind](spec)
