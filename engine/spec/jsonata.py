"""The one place unimeter touches a JSONata implementation, so it can be swapped.

The evaluator is ``jsonatapy`` (Rust core, pinned exactly: patch releases have changed results). It reports no
position for syntax errors, so when it rejects an expression we parse it again with ``jsonata-python`` only to find
where it broke. Compiled ``jsonatapy`` expressions must not be shared between threads: :class:`Expression` keeps one
compiled copy per thread.

Two built-ins are replaced because jsonatapy 2.2.13 gets them wrong: ``$encodeUrlComponent`` and ``$encodeUrl``
escape unreserved characters (``-`` becomes ``%2D``), which breaks vendor URLs.

The clock is injectable: ``$now()`` and ``$millis()`` read :func:`pinned_now` so a caller (and every fixture) can pin
"now" without touching the expressions.
"""

from __future__ import annotations

import contextlib
import re
import threading
import urllib.parse
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import jsonatapy

from .functions import FUNCTIONS, format_instant

_PINNED_NOW: ContextVar[datetime | None] = ContextVar("unimeter_pinned_now", default=None)


def current_time() -> datetime:
    """The pinned instant when one is set, else the real UTC time."""
    return _PINNED_NOW.get() or datetime.now(UTC)


@contextlib.contextmanager
def pinned_now(moment: datetime | None) -> Iterator[None]:
    """Within this block ``$now()`` is ``moment`` (no effect when ``moment`` is None)."""
    token = _PINNED_NOW.set(moment.astimezone(UTC) if moment else None)
    try:
        yield
    finally:
        _PINNED_NOW.reset(token)


def _now(picture: Any = None, timezone: Any = None) -> Any:
    """``$now([picture [, timezone]])`` on the injectable clock; a picture formats like the built-in."""
    moment = current_time()
    if picture is None and timezone is None:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    source = "$fromMillis($ms, $picture)" if timezone is None else "$fromMillis($ms, $picture, $timezone)"
    return jsonatapy.compile(source).evaluate(None, {"ms": _millis(), "picture": picture, "timezone": timezone})


def _millis(*_args: Any) -> int:
    moment = current_time()
    return int(moment.timestamp() * 1000)


def _encode_url_component(value: Any = None) -> str | None:
    """ECMAScript ``encodeURIComponent``: jsonatapy 2.2.13 also escapes unreserved characters such as ``-``."""
    return None if value is None else urllib.parse.quote(str(value), safe="-_.!~*'()")


def _encode_url(value: Any = None) -> str | None:
    """ECMAScript ``encodeURI`` (same jsonatapy defect as above)."""
    return None if value is None else urllib.parse.quote(str(value), safe=";,/?:@&=+$-_.!~*'()#")


_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class JsonataSyntaxError(ValueError):
    """An expression does not parse. ``position`` is the 0-based character offset where parsing stopped."""

    def __init__(self, message: str, position: int | None) -> None:
        super().__init__(message)
        self.position = position


class JsonataEvaluationError(ValueError):
    """An expression failed while evaluating (type error, failing custom function, ...)."""


def _locate_syntax_error(source: str) -> int | None:
    try:
        import jsonata as positional_parser  # type: ignore[import-untyped]  # jsonata-python, no stubs

        positional_parser.Jsonata(source)
    except Exception as error:  # the parser raises its own JException
        location = getattr(error, "location", None)
        return int(location) if isinstance(location, int) else None
    return None


def _compile(source: str) -> Any:
    compiled = jsonatapy.compile(source)
    compiled.register_override("now", _now)
    compiled.register_override("millis", _millis)
    compiled.register_override("encodeUrlComponent", _encode_url_component)
    compiled.register_override("encodeUrl", _encode_url)
    for name, func in FUNCTIONS.items():
        compiled.register(name, func)
    return compiled


class Expression:
    """A compiled JSONata expression. Compiles at construction so syntax errors surface at load time."""

    def __init__(self, source: str) -> None:
        self.source = source
        # Only the bindings an expression mentions are handed to it: converting unused ones costs per evaluation.
        self.variables = frozenset(_VARIABLE.findall(source))
        self._local = threading.local()
        try:
            self._local.compiled = _compile(source)
        except ValueError as error:
            message = str(error).removeprefix("Parse error: ")
            raise JsonataSyntaxError(message, _locate_syntax_error(source)) from None

    def _compiled(self) -> Any:
        compiled = getattr(self._local, "compiled", None)
        if compiled is None:
            compiled = self._local.compiled = _compile(self.source)
        return compiled

    def evaluate(self, data: Any, bindings: dict[str, Any] | None = None) -> Any:
        """Evaluate against ``data`` with ``$name`` bindings; undefined comes back as None."""
        if bindings:
            bindings = {name: value for name, value in bindings.items() if name in self.variables} or None
        try:
            return self._compiled().evaluate(data, bindings)
        except ValueError as error:
            raise JsonataEvaluationError(str(error)) from None

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


__all__ = [
    "Expression",
    "JsonataEvaluationError",
    "JsonataSyntaxError",
    "current_time",
    "format_instant",
    "pinned_now",
]
