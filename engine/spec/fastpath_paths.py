"""JSONata's sequence semantics for the generated code of :mod:`unimeter.spec.fastpath_codegen`: paths over arrays.

A path is a head (the context, a variable, a call, an array constructor) and steps; each step maps over the input
sequence with ``$`` bound to one item at a time, as JSONata defines it and jsonatapy reproduces:

- a step's result for one item is left out when undefined, and flattened one level into the output when it is an
  array (a field holding ``[1, 2]`` gives two items);
- predicates (``stages``) filter one item's result: by truthiness, or, for a number literal, by index (negative from
  the end, floored);
- the path's value is its last sequence collapsed: none is undefined, one is that item, more are an array; except
  that when the last step gives one result for one item, unfiltered, and that result is an array, that array is the
  value as it is (``a.b`` of ``{"a": {"b": [5]}}`` is ``[5]``, not ``5``).

JSONata also remembers whether an array is such a collapsed sequence, and one built-in reads that: ``$distinct`` of a
sequence collapses its result, of an array it does not. :func:`path_seq` returns that too, for the code generator's
``$distinct`` of a path; a value whose origin is not known that way falls back where it would matter.

What is not covered raises :class:`Fallback`: a step over an array inside an array (JSONata looks into nested arrays
there), over a function, an index selecting an array, a predicate over an array item or giving a number
(index semantics), a body step whose one last result is an array (whether it was a sequence is unknown).
"""

from __future__ import annotations

import functools
from types import FunctionType
from typing import Any

from .fastpath_values import UNDEF, Fallback, boolean, collapse, equal, is_number, read_value

NAME = 0
"""A field name step: the payload is the name."""
WILDCARD = 1
"""``*``: every field value of an object item, arrays flattened."""
DESCENDANTS = 2
"""``**``: the item and every value below it, arrays left out but looked into."""
BODY = 3
"""Any other expression as a step (a call, a block, an object constructor): the payload is ``item -> value``."""

Step = tuple[int, Any, tuple[Any, ...]]


def items_of(value: Any) -> list[Any]:
    """A value as the sequence a path steps over (a variable's or a call's array is flattened, as jsonatapy does)."""
    if value is UNDEF:
        return []
    if type(value) is list:
        return value
    if type(value) is FunctionType:
        raise Fallback("a path from a function")
    return [value]


def sieve(value: Any, stages: tuple[Any, ...]) -> list[Any]:
    """The items of ``value`` its predicates keep: an int selects by index, a function ``items -> kept`` filters."""
    if value is UNDEF:
        return []
    kind = type(value)
    if kind is FunctionType:
        raise Fallback("a predicate on a function")
    items: list[Any] = value if kind is list else [value]
    for stage in stages:
        if type(stage) is int:
            index = stage if stage >= 0 else len(items) + stage
            if 0 <= index < len(items):
                picked = items[index]
                if type(picked) is list:
                    raise Fallback("an index selecting an array")
                items = [picked]
            else:
                items = []
            continue
        items = stage(items)
    return items


def keep(verdict: Any) -> bool:
    """A predicate's verdict as a filter: truthiness; a number would select by index, which falls back."""
    kind = type(verdict)
    if kind is bool:
        return verdict is True
    if kind is int or kind is float or (kind is list and any(is_number(v) for v in verdict)):
        raise Fallback("an index predicate computed at run time")
    return verdict is not UNDEF and verdict is not None and boolean(verdict)


def select(value: Any, stages: tuple[Any, ...]) -> Any:
    """``value[predicate]`` outside a path: the kept items, collapsed."""
    if value is UNDEF:
        return UNDEF
    return collapse(sieve(value, stages))


def _wildcard(item: dict[str, Any]) -> list[Any]:
    found: list[Any] = []
    for value in item.values():
        value = read_value(value)
        if type(value) is list:
            found.extend(value)
        else:
            found.append(value)
    return found


def _descendants(value: Any, found: list[Any]) -> None:
    """``value`` and everything below it, depth first, arrays looked into but left out (as JSONata's ``**``)."""
    stack = [value]
    while stack:
        current = stack.pop()
        kind = type(current)
        if kind is dict:
            found.append(current)
            stack.extend(reversed(current.values()))
        elif kind is list:
            stack.extend(reversed(current))
        elif kind is str or kind is bool or current is None:
            found.append(current)
        elif kind is FunctionType:
            raise Fallback("descendants of a function")
        else:
            found.append(read_value(current))


def _flat(results: list[Any]) -> list[Any]:
    flat: list[Any] = []
    for result in results:
        if type(result) is list:
            flat.extend(result)
        else:
            flat.append(result)
    return flat


def path_seq(seq: list[Any], steps: tuple[Step, ...]) -> tuple[Any, bool | None]:
    """The path's value from the head's sequence ``seq``, and whether it is a collapsed sequence (True), an array
    kept as it is (False), or not known (None, only for a body step's one array result)."""
    last = len(steps) - 1
    for position, (kind, payload, stages) in enumerate(steps):
        results: list[Any] = []
        for item in seq:
            item_kind = type(item)
            if item_kind is list:
                raise Fallback("a step over an array in an array")
            if item_kind is FunctionType:
                raise Fallback("a step over a function")
            if kind == NAME:
                if item_kind is not dict:
                    continue
                value = item.get(payload, UNDEF)
                if value is UNDEF:
                    continue
                value = read_value(value)
            elif kind == BODY:
                value = payload(item)
                if value is UNDEF:
                    continue
                if type(value) is FunctionType:
                    raise Fallback("a step giving a function")
            elif kind == WILDCARD:
                if item_kind is not dict:
                    continue
                value = _wildcard(item)
            else:
                value = []
                _descendants(item, value)
            if stages:
                value = sieve(value, stages)
            results.append(value)
        if position == last:
            if len(results) == 1 and not stages and kind in (NAME, BODY):
                single = results[0]
                if type(single) is not list:
                    return single, True
                return single, False if kind == NAME else None
            return collapse(_flat(results)), True
        seq = _flat(results)
        if not seq:
            return UNDEF, True
    raise AssertionError("a path has steps")


def path(seq: list[Any], steps: tuple[Step, ...]) -> Any:
    return path_seq(seq, steps)[0]


@functools.lru_cache(maxsize=1024)
def _name_steps(names: tuple[str, ...]) -> tuple[Step, ...]:
    return tuple((NAME, name, ()) for name in names)


def walk(value: Any, names: tuple[str, ...]) -> Any:
    """A path of field names from ``value``: objects read in a loop, the general rules from the first array on."""
    for index, name in enumerate(names):
        kind = type(value)
        if kind is dict:
            value = value.get(name, UNDEF)
        elif kind is list:
            return path_seq(value, _name_steps(names[index:]))[0]
        elif kind is FunctionType:
            raise Fallback("path from a function")
        else:
            return UNDEF
    return read_value(value)


def field(context: Any, name: str) -> Any:
    """``name`` of any context item (inside a predicate or a step the item may be anything but an array)."""
    kind = type(context)
    if kind is dict:
        return read_value(context.get(name, UNDEF))
    if kind is list:
        raise Fallback("path over an array")
    if kind is FunctionType:
        raise Fallback("path from a function")
    return UNDEF


def distinct_of(value: Any, sequence: bool | None) -> Any:
    """``$distinct``: the first of each run of deep-equal items; one left of a sequence collapses to it, of an array
    stays an array (``sequence`` None: not known, which falls back when it would matter)."""
    if type(value) is not list or len(value) <= 1:
        if type(value) is FunctionType:
            raise Fallback("$distinct of a function")
        return value
    kept: list[Any] = []
    for item in value:
        if not any(equal(item, seen) for seen in kept):
            kept.append(item)
    if len(kept) == 1:
        if sequence is None:
            raise Fallback("$distinct to one item of a value of unknown origin")
        if sequence:
            return kept[0]
    return kept
