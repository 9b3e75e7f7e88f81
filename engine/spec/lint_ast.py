"""JSONata syntax trees for the lint, from the ``jsonata-python`` parser (the evaluator, jsonatapy, exposes none).

The lint reads trees only to find plain field paths and object keys; it never evaluates them. A node is the parser's
``Symbol`` (``type``, ``value``, ``position``, and per type ``steps``, ``lhs``/``rhs``, ``expressions``, ...), read
here through :func:`attr` so the rest of the lint does not depend on the parser's attribute spelling.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.lru_cache(maxsize=1024)
def parse(source: str) -> Any:
    """The syntax tree of ``source``, or None when it does not parse (the loader reports syntax errors)."""
    try:
        import jsonata as positional_parser  # type: ignore[import-untyped]  # jsonata-python, no stubs

        return positional_parser.Jsonata(source).ast
    except Exception:  # the parser raises its own JException; anything else means "cannot analyse"
        return None


def attr(node: Any, name: str) -> Any:
    """An attribute of a node, None when it has none."""
    return getattr(node, name, None)


def kind(node: Any) -> str | None:
    """The node's type: path, name, variable, block, bind, function, lambda, condition, binary, unary, ..."""
    value = attr(node, "type")
    return value if isinstance(value, str) else None


def start(source: str, node: Any) -> int:
    """0-based offset where a name or string token starts, at its quote if it has one (the parser records where the
    token ends, after the closing quote)."""
    end = min(attr(node, "position") or 0, len(source))
    quote = source[end - 1] if end > 0 else ""
    if quote in ("`", "'", '"'):
        index = end - 2
        while index >= 0:
            if source[index] == quote and (index == 0 or source[index - 1] != "\\"):
                return index
            index -= 1
    return max(end - len(str(attr(node, "value") or "")), 0)
