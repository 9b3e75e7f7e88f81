"""What the generated Python of :mod:`unimeter.spec.fastpath_codegen` calls at run time.

The generated source inlines what is cheap to inline (dict building, field reads, conditions) and calls these for the
rest. Each reproduces one rule of :mod:`unimeter.spec.fastpath_values` on evaluated values and raises
:class:`Fallback` where that rule does (a function where data is expected, a value outside the subset); the
Expression then evaluates the input with jsonatapy. Paths over arrays are :mod:`unimeter.spec.fastpath_paths`'s. A
function defined in the expression is a plain Python function here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import FunctionType
from typing import Any

from .fastpath_output import arranged, arranged_argument
from .fastpath_paths import walk
from .fastpath_values import (
    UNDEF,
    Fallback,
    bmp_only,
    boolean,
    concat_part,
    equal,
    import_value,
    is_number,
    number,
    read_value,
)

EMPTY: dict[str, Any] = {}
"""The field-lookup stand-in for a context that is not an object (every field of it is undefined). Never written."""


TYPES: dict[type, str] = {
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
    dict: "object",
    list: "array",
    FunctionType: "function",
}
"""``$type`` by Python type (undefined is not a key: ``$type`` of it is undefined)."""


def fallback(reason: str) -> Any:
    raise Fallback(reason)


val = read_value


def whole(value: Any) -> Any:
    """``$name`` of the bindings, or a host function's result: the whole value, converted, arrays included (no path
    step flattens them)."""
    return import_value(value)


def walk_bound(value: Any, names: tuple[str, ...]) -> Any:
    """A path of field names from a binding: converted like the binding (:func:`whole`)."""
    value = walk(value, names)
    kind = type(value)
    return import_value(value) if kind is dict or kind is list else value


def strip(result: dict[str, Any]) -> dict[str, Any]:
    """An object built from a dict display: undefined values are left out, functions cannot be values."""
    for item in result.values():
        if item is UNDEF or type(item) is FunctionType:
            break
    else:
        return result
    kept = {}
    for key, item in result.items():
        if item is UNDEF:
            continue
        if type(item) is FunctionType:
            raise Fallback("function in an object")
        kept[key] = item
    return kept


def object_of(pairs: tuple[tuple[Any, Any], ...]) -> dict[str, Any]:
    """``{key: value}`` with computed keys."""
    result: dict[str, Any] = {}
    for key, item in pairs:
        if type(key) is not str:
            raise Fallback("object key not a string")
        if key in result:
            raise Fallback("duplicate key")
        if item is UNDEF:
            continue
        if type(item) is FunctionType:
            raise Fallback("function in an object")
        result[key] = item
    return result


def array_of(nested: tuple[bool, ...], items: tuple[Any, ...]) -> list[Any]:
    """``[a, b]``: undefined items are left out and an item that is an array is spliced in, unless it was written as
    an array constructor itself (``nested``)."""
    result: list[Any] = []
    for keep, item in zip(nested, items, strict=True):
        if item is UNDEF:
            continue
        kind = type(item)
        if kind is FunctionType:
            raise Fallback("function in an array")
        if keep or kind is not list:
            result.append(item)
        else:
            result.extend(item)
    return result


def concat(value: Any) -> str:
    """One operand of ``&``."""
    if type(value) is str:
        return value
    if value is UNDEF:
        return ""
    return concat_part(value)


def truthy(value: Any) -> bool:
    """JSONata's boolean cast (a function falls back)."""
    kind = type(value)
    if kind is bool:
        return value is True
    if kind is str:
        return value != ""  # type: ignore[no-any-return]
    if value is UNDEF or value is None:
        return False
    return boolean(value)


def negate(value: Any) -> Any:
    if value is UNDEF:
        return UNDEF
    if not is_number(value):
        raise Fallback("negation of a non-number")
    return number(-float(value))


def _arithmetic(op: Callable[[float, float], float]) -> Callable[[Any, Any], Any]:
    def run(a: Any, b: Any) -> Any:
        if a is UNDEF or b is UNDEF:
            if (a is not UNDEF and not is_number(a)) or (b is not UNDEF and not is_number(b)):
                raise Fallback("arithmetic on a non-number")
            return UNDEF
        if not (is_number(a) and is_number(b)):
            raise Fallback("arithmetic on a non-number")
        return number(op(float(a), float(b)))

    return run


add = _arithmetic(float.__add__)
sub = _arithmetic(float.__sub__)
mul = _arithmetic(float.__mul__)
div = _arithmetic(float.__truediv__)
mod = _arithmetic(math.fmod)


def eq(a: Any, b: Any) -> bool:
    if a is UNDEF or b is UNDEF:
        return False
    if type(a) is str and type(b) is str:
        return a == b
    return _equal(a, b)


def ne(a: Any, b: Any) -> bool:
    if a is UNDEF or b is UNDEF:
        return False
    if type(a) is str and type(b) is str:
        return a != b
    return not _equal(a, b)


def _equal(a: Any, b: Any) -> bool:
    if type(a) is FunctionType or type(b) is FunctionType:
        raise Fallback("comparison of a function")
    return equal(a, b)


def _ordering(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Any]:
    def run(a: Any, b: Any) -> Any:
        if is_number(a) and is_number(b):
            return op(a, b)
        if type(a) is str and type(b) is str:
            return op(bmp_only(a), bmp_only(b))
        if a is UNDEF and b is UNDEF:
            return UNDEF
        if (a is UNDEF and (is_number(b) or type(b) is str)) or (b is UNDEF and (is_number(a) or type(a) is str)):
            return UNDEF
        raise Fallback("ordering of mixed values")

    return run


lt = _ordering(lambda a, b: a < b)
le = _ordering(lambda a, b: a <= b)
gt = _ordering(lambda a, b: a > b)
ge = _ordering(lambda a, b: a >= b)


def member(a: Any, b: Any) -> bool:
    """``a in b``."""
    if a is UNDEF or b is UNDEF:
        return False
    kind = type(a)
    if kind is dict or kind is list or kind is FunctionType:
        raise Fallback("membership of a container")
    items = b if type(b) is list else [b]
    return any(_equal(a, item) for item in items)


def host_argument(value: Any) -> Any:
    """A value as jsonatapy hands it to a host function: undefined as None; objects and arrays as the fast path holds
    them (the input's own objects, arrays with their numbers normalised), which is what jsonatapy passes too."""
    if value is UNDEF:
        return None
    kind = type(value)
    if kind is FunctionType:
        raise Fallback("function passed to a host function")
    if kind is list or kind is dict:
        return arranged_argument(value)
    return value


def output(value: Any, data: Any) -> Any:
    """The final result: undefined is None; a function cannot be returned; objects in arrays in jsonatapy's key
    order (:mod:`unimeter.spec.fastpath_output`)."""
    if value is UNDEF:
        return None
    kind = type(value)
    if kind is FunctionType:
        raise Fallback("function as a result")
    if kind is list or kind is dict:
        return arranged(value, data)
    return value
