"""The one place unimeter touches a JSONata implementation, so it can be swapped.

The evaluator is ``jsonatapy`` (Rust core, pinned exactly: patch releases have changed results). It reports no
position for syntax errors, so when it rejects an expression we parse it again with ``jsonata-python`` only to find
where it broke. Compiled ``jsonatapy`` expressions belong to the thread that made them: used, or even dropped, on
another thread they fail ("JsonataExpression is unsendable, but is being dropped on another thread"). So they live
only in one module-level cache per thread, keyed by source, which is never dropped while its thread runs;
:class:`Expression` holds only the source.

Two built-ins are replaced because jsonatapy 2.2.13 gets them wrong: ``$encodeUrlComponent`` and ``$encodeUrl``
escape unreserved characters (``-`` becomes ``%2D``), which breaks vendor URLs.

An expression evaluated often (:data:`HOT` times) and in the supported subset is then compiled to generated Python
(:mod:`unimeter.spec.fastpath`), used instead of jsonatapy; whenever that code meets an input it does not cover,
jsonatapy evaluates that input. Compiling waits for use because parsing for it costs milliseconds, which loading every
mapping must not pay. Both give the same results, but not always at the same cost: generated Python wins where
jsonatapy's conversions dominate and can lose where an expression computes a lot per record, so the next
:data:`TRIAL` evaluations alternate between the two, timed, and the generated code stays unless its median
evaluation was slower (by more than :data:`TIE`).
``UNIMETER_JSONATA_FASTPATH=0`` turns the fast path off.

The clock is injectable: ``$now()`` and ``$millis()`` read :func:`pinned_now` so a caller (and every fixture) can pin
"now" without touching the expressions.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import statistics
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jsonatapy

from .fastpath import compile_expression
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


_OVERRIDES: dict[str, Any] = {
    "now": _now,
    "millis": _millis,
    "encodeUrlComponent": _encode_url_component,
    "encodeUrl": _encode_url,
}
HOST_FUNCTIONS: dict[str, Any] = {**_OVERRIDES, **FUNCTIONS}
"""Every Python function an expression can call, by JSONata name: jsonatapy registers them, the fast path calls them."""


def _compile(source: str) -> Any:
    compiled = jsonatapy.compile(source)
    for name, func in _OVERRIDES.items():
        compiled.register_override(name, func)
    for name, func in FUNCTIONS.items():
        compiled.register(name, func)
    return compiled


FASTPATH_SWITCH = "UNIMETER_JSONATA_FASTPATH"
"""Environment variable: ``0`` makes every Expression built afterwards use jsonatapy only (rules the fast path out)."""


def fastpath_enabled() -> bool:
    return os.environ.get(FASTPATH_SWITCH, "1").strip() != "0"


@functools.lru_cache(maxsize=4096)
def _fast(source: str) -> Any:
    return compile_expression(source, HOST_FUNCTIONS)


HOT = 100
"""Evaluations of one Expression before its source is compiled to Python. Parsing and generating cost 1-20 ms for
plain transforms, 30-60 ms for the largest ones with paths over arrays, which 100 evaluations at 10-70 us saved each
(a few hundred for the largest) earn back; an expression evaluated once per request or page never pays it, a
transform pays it once in its first pages."""


TRIAL = 64
"""Evaluations after compiling, half on each path, timed, that decide which one an Expression keeps."""

TIE = 1.05
"""The generated code is kept unless its median evaluation is slower than jsonatapy's by more than this: it also
allocates less (jsonatapy builds every result as new Python objects), which timing evaluations one by one does not
see. In the library benchmark a transform that timed as a tie (301 against 299 us a record) ran at a CPU ratio of
2.60 and 103 MB peak RSS generated, 3.03 and 126 MB on jsonatapy; one 13% slower timed ran at 3.16 generated and 2.86
on jsonatapy."""


@dataclass
class _Trial:
    """Each evaluation's time on either path (medians decide: a garbage collection or a cold cache in one
    evaluation must not)."""

    fast: list[float] = field(default_factory=list)
    slow: list[float] = field(default_factory=list)
    count: int = 0


_THIS_THREAD = threading.local()
CACHE_SIZE = 4096
"""Compiled expressions kept per thread; past this many (only a process loading ever-new mappings gets there) the
thread's cache starts over, on its own thread, so nothing is dropped elsewhere."""


def _compiled_here(source: str) -> Any:
    """This thread's compiled copy of ``source``."""
    cache: dict[str, Any] | None = getattr(_THIS_THREAD, "compiled", None)
    if cache is None:
        cache = _THIS_THREAD.compiled = {}
    compiled = cache.get(source)
    if compiled is None:
        if len(cache) >= CACHE_SIZE:
            cache.clear()
        compiled = cache[source] = _compile(source)
    return compiled


def referenced_names(source: str) -> frozenset[str]:
    """The ``$names`` an expression mentions (a superset: names inside strings count too, which is harmless)."""
    return frozenset(_VARIABLE.findall(source))


def with_helpers(source: str, helpers: dict[str, str]) -> str:
    """``source`` inside a block that first binds the named helper functions it uses (and the helpers they use).

    A mapping's ``helpers:`` are defined once and visible in every expression; JSONata has no global functions, so
    each expression that mentions one is compiled with the definitions in front. Unused helpers are left out, so an
    expression without any compiles (and costs) exactly as written.
    """
    wanted: list[str] = []
    pending = sorted(referenced_names(source) & helpers.keys())
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        wanted.append(name)
        pending.extend(sorted((referenced_names(helpers[name]) & helpers.keys()) - set(wanted)))
    if not wanted:
        return source
    definitions = "".join(f"${name} := {helpers[name]};\n" for name in sorted(wanted))
    return f"(\n{definitions}{source}\n)"


class Expression:
    """A JSONata expression. Compiles at construction so syntax errors surface at load time.

    ``helpers`` are the mapping's named functions (``helpers:``): ``source`` stays what the author wrote (errors and
    lint show it); what runs is ``source`` with the helpers it uses bound in front.
    """

    def __init__(self, source: str, helpers: dict[str, str] | None = None) -> None:
        self.source = source
        self.runs = with_helpers(source, helpers) if helpers else source
        # Only the bindings an expression mentions are handed to it: converting unused ones costs per evaluation.
        self.variables = referenced_names(self.runs)
        try:
            _compiled_here(source)
        except ValueError as error:
            message = str(error).removeprefix("Parse error: ")
            raise JsonataSyntaxError(message, _locate_syntax_error(source)) from None
        if self.runs is not source:
            _compiled_here(self.runs)
        self.fast: Any = None
        self._uses = 0 if fastpath_enabled() else -1  # -1: no fast path for this Expression (any more)
        self._fallbacks = 0
        self._trial: _Trial | None = None

    def _compiled(self) -> Any:
        return _compiled_here(self.runs)

    def _warm(self) -> Any:
        """Compiled once this Expression is hot (None until then, and when outside the subset)."""
        self._uses += 1
        if self._uses == HOT:
            self.fast = _fast(self.runs)
            if self.fast is None:
                self._uses = -1
            else:
                self._trial = _Trial()
        return self.fast

    def _judge(self, trial: _Trial) -> None:
        trial.count += 1
        if trial.count >= TRIAL:
            self._trial = None
            if statistics.median(trial.fast) > statistics.median(trial.slow) * TIE:
                self.fast, self._uses = None, -1

    def _timed(self, fast: Any, data: Any, bindings: dict[str, Any] | None, trial: _Trial) -> Any:
        """One evaluation of the trial: the generated code on even turns (its fallbacks count as its cost),
        jsonatapy on odd ones."""
        started = time.perf_counter()
        if trial.count % 2:
            try:
                return self._evaluated(data, bindings)
            finally:
                trial.slow.append(time.perf_counter() - started)
                self._judge(trial)
        try:
            return fast(data, bindings)
        except Exception:
            self._fell_back()
            return self._evaluated(data, bindings)
        finally:
            trial.fast.append(time.perf_counter() - started)
            self._judge(trial)

    def _fell_back(self) -> None:
        """Given up when it mostly falls back (an input shape it does not cover): trying first would cost."""
        self._fallbacks += 1
        if self._fallbacks > 16 and self._fallbacks * 2 > self._uses - HOT:
            self.fast, self._uses = None, -1

    def evaluate(self, data: Any, bindings: dict[str, Any] | None = None) -> Any:
        """Evaluate against ``data`` with ``$name`` bindings; undefined comes back as None."""
        fast = self.fast
        if fast is None and self._uses >= 0:
            fast = self._warm()
        if fast is not None:
            self._uses += 1
            trial = self._trial
            if trial is not None:
                return self._timed(fast, data, bindings, trial)
            try:
                return fast(data, bindings)  # it reads only the bindings it names
            except Exception:  # not covered, or an error: jsonatapy gives its own result or its own error
                self._fell_back()
        return self._evaluated(data, bindings)

    def _evaluated(self, data: Any, bindings: dict[str, Any] | None) -> Any:
        """jsonatapy's result."""
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
    "referenced_names",
    "with_helpers",
]
