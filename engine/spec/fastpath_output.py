"""The key order jsonatapy gives objects in arrays when it converts a result to Python, reproduced for the fast path.

jsonatapy builds the Python dicts of an array of two or more objects it made itself (not the input's own objects,
which it hands through) from the first object's keys: each later object lists the keys it shares with the first in
the first's order, then its other keys. ``[{'b': 1}, {'a': 2, 'b': 3}]`` comes back as
``[{'b': 1}, {'b': 3, 'a': 2}]``. Rows are printed in key order, so the fast path's results are rearranged the same
way (new dicts; nothing it holds is changed).
"""

from __future__ import annotations

from typing import Any

from .fastpath_values import Fallback


class _Inputs:
    """Which dicts are the input's own (found lazily: most results need no rearranging at all)."""

    def __init__(self, data: Any, known: bool) -> None:
        self.data = data
        self.known = known
        self.ids: set[int] | None = None

    def has(self, value: Any) -> bool:
        if not self.known:
            raise Fallback("an array of objects whose origin is not known")
        if self.ids is None:
            found: set[int] = set()
            stack = [self.data]
            while stack:
                current = stack.pop()
                kind = type(current)
                if kind is dict:
                    found.add(id(current))
                    stack.extend(current.values())
                elif kind is list:
                    stack.extend(current)
            self.ids = found
        return id(value) in self.ids


def _arranged(value: Any, inputs: _Inputs) -> Any:
    kind = type(value)
    if kind is dict:
        changed: dict[str, Any] | None = None
        for key, item in value.items():
            inner = type(item)
            if inner is dict or inner is list:
                new = _arranged(item, inputs)
                if new is not item:
                    if changed is None:
                        changed = dict(value)
                    changed[key] = new
        return value if changed is None else changed
    items: list[Any] = value
    copied: list[Any] | None = None
    for index, item in enumerate(items):
        inner = type(item)
        if inner is dict or inner is list:
            new = _arranged(item, inputs)
            if new is not item:
                if copied is None:
                    copied = list(items)
                copied[index] = new
    result = items if copied is None else copied
    if len(result) < 2 or not all(type(item) is dict for item in result):
        return result
    first = result[0]
    order = list(first)
    wanted = []
    for item in result[1:]:
        keys = [key for key in order if key in item]
        keys += [key for key in item if key not in first]
        wanted.append(keys)
    if all(keys == list(item) for keys, item in zip(wanted, result[1:], strict=True)):
        return result
    if any(inputs.has(item) for item in result):
        return result  # jsonatapy converts such an array item by item
    return [first] + [{key: item[key] for key in keys} for keys, item in zip(wanted, result[1:], strict=True)]


def arranged(value: Any, data: Any) -> Any:
    """``value`` (a result) as jsonatapy converts it, ``data`` being the input it was evaluated on."""
    kind = type(value)
    if kind is dict or kind is list:
        return _arranged(value, _Inputs(data, True))
    return value


def arranged_argument(value: Any) -> Any:
    """A host function's argument as jsonatapy converts it; falls back where that depends on the input's objects."""
    kind = type(value)
    if kind is dict or kind is list:
        return _arranged(value, _Inputs(None, False))
    return value
