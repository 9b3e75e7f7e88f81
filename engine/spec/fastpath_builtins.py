"""The JSONata built-in functions the fast path runs itself (see :mod:`unimeter.spec.fastpath`).

Each takes the evaluated arguments (``UNDEF`` where undefined; a function the expression defines is a plain Python
function) and returns what jsonatapy returns for the inputs it accepts; for anything else (a wrong type, which
jsonatapy reports as an error, an unusual argument, a non-ASCII string where JavaScript and Python case mapping could
differ) it raises :class:`Fallback` and jsonatapy decides. Only functions whose every accepted case is reproduced are
listed in :data:`BUILTINS`; an expression calling another one is not compiled at all.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FunctionType
from typing import Any

from .fastpath_paths import distinct_of
from .fastpath_values import (
    UNDEF,
    Fallback,
    bmp_only,
    boolean,
    collapse,
    is_number,
    number,
    opened,
    read_value,
    string,
)


def _arity(args: list[Any], low: int, high: int) -> None:
    if not low <= len(args) <= high:
        raise Fallback("argument count")


def _string_arg(value: Any) -> str:
    if type(value) is not str:
        raise Fallback("not a string")
    return value


def _integer_arg(value: Any) -> int:
    if type(value) is not int:
        raise Fallback("not an integer")
    return value


def _string(args: list[Any]) -> Any:
    _arity(args, 1, 1)
    if type(args[0]) is float and not args[0] == args[0]:
        raise Fallback("NaN")
    return string(args[0])


def _type(args: list[Any]) -> Any:
    _arity(args, 1, 1)
    value = args[0]
    kind = type(value)
    if kind is str:
        return "string"
    if kind is int or kind is float:
        return "number"
    if kind is bool:
        return "boolean"
    if value is None:
        return "null"
    if kind is dict:
        return "object"
    if kind is list:
        return "array"
    if kind is FunctionType:
        return "function"
    return UNDEF


def _exists(args: list[Any]) -> Any:
    _arity(args, 1, 1)
    return args[0] is not UNDEF


def _count(args: list[Any]) -> Any:
    _arity(args, 1, 1)
    value = args[0]
    if value is UNDEF:
        return 0
    if type(value) is list:
        return len(value)
    return 1


def _sum(args: list[Any]) -> Any:
    _arity(args, 1, 1)
    value = args[0]
    if value is UNDEF:
        return UNDEF
    items = value if type(value) is list else [value]
    total = 0.0
    for item in items:
        if not is_number(item):
            raise Fallback("$sum of a non-number")
        total += item
    return number(total)


def _substring(args: list[Any]) -> Any:
    _arity(args, 2, 3)
    text = args[0]
    if text is UNDEF:
        return UNDEF
    text = bmp_only(_string_arg(text))
    start = _integer_arg(args[1])
    length = len(text)
    if length + start < 0:
        start = 0
    if len(args) == 3 and args[2] is not UNDEF:
        count = _integer_arg(args[2])
        if count <= 0:
            return ""
        end = start + count if start >= 0 else length + start + count
        return text[start:end]
    return text[start:]


def _case(convert: Callable[[str], str]) -> Callable[[list[Any]], Any]:
    def mapped(args: list[Any]) -> Any:
        _arity(args, 1, 1)
        text = args[0]
        if text is UNDEF:
            return UNDEF
        text = _string_arg(text)
        if not text.isascii():
            raise Fallback("case mapping outside ASCII")
        return convert(text)

    return mapped


def _not(args: list[Any]) -> Any:
    _arity(args, 1, 1)
    return UNDEF if args[0] is UNDEF else not boolean(args[0])


def _boolean(args: list[Any]) -> Any:
    _arity(args, 1, 1)
    return UNDEF if args[0] is UNDEF else boolean(args[0])


def _lookup(args: list[Any]) -> Any:
    _arity(args, 2, 2)
    obj, key = args
    key = _string_arg(key)
    if type(obj) is dict:
        return read_value(obj.get(key, UNDEF))
    if type(obj) is list:
        raise Fallback("$lookup over an array")
    if obj is UNDEF or type(obj) is str or obj is None or is_number(obj) or type(obj) is bool:
        return UNDEF
    raise Fallback("$lookup of a function")


def _join(args: list[Any]) -> Any:
    _arity(args, 1, 2)
    items = args[0]
    if items is UNDEF:
        return UNDEF
    separator = "" if len(args) == 1 or args[1] is UNDEF else _string_arg(args[1])
    if type(items) is str:
        return items
    if type(items) is not list or not all(type(item) is str for item in items):
        raise Fallback("$join of non-strings")
    return separator.join(items)


def _keys(args: list[Any]) -> Any:
    _arity(args, 1, 1)
    value = args[0]
    if value is UNDEF:
        return UNDEF
    if type(value) is not dict:
        raise Fallback("$keys of a non-object")
    return collapse(list(value))


def _sort(args: list[Any]) -> Any:
    _arity(args, 1, 1)
    items = args[0]
    if items is UNDEF:
        return UNDEF
    if type(items) is not list:
        items = [items]
    if all(type(item) is str for item in items):
        return sorted(bmp_only(item) for item in items)
    if all(is_number(item) for item in items):
        return sorted(items)
    raise Fallback("$sort of mixed values")


def _split(args: list[Any]) -> Any:
    _arity(args, 2, 2)
    text = args[0]
    if text is UNDEF:
        return UNDEF
    text, separator = _string_arg(text), _string_arg(args[1])
    if separator == "":
        raise Fallback("$split into characters")
    return text.split(separator)


def _function_arg(value: Any) -> Callable[..., Any]:
    if type(value) is not FunctionType:
        raise Fallback("not a function")
    return value


def _map(args: list[Any]) -> Any:
    _arity(args, 2, 2)
    items, func = args[0], _function_arg(args[1])
    if items is UNDEF:
        return UNDEF
    if type(items) is not list:
        items = [items]
    arity = _arity_of(func)
    results = []
    for index, item in enumerate(items):
        result = func(*[item, index, items][:arity])
        if type(result) is FunctionType:
            raise Fallback("$map to functions")
        if result is not UNDEF:
            results.append(result)
    return collapse(results)


def _filter(args: list[Any]) -> Any:
    _arity(args, 2, 2)
    items, func = args[0], _function_arg(args[1])
    if items is UNDEF:
        return UNDEF
    if type(items) is not list:
        items = [items]
    arity = _arity_of(func)
    return collapse([item for index, item in enumerate(items) if boolean(func(*[item, index, items][:arity]))])


def _arity_of(func: Callable[..., Any]) -> int:
    return func.__code__.co_argcount


def _each(args: list[Any]) -> Any:
    """``$each(object, function($value, $key, $object))``: the results in key order, undefined ones left out."""
    _arity(args, 2, 2)
    obj, func = args[0], _function_arg(args[1])
    if obj is UNDEF:
        return UNDEF
    if type(obj) is not dict:
        raise Fallback("$each of a non-object")
    arity = _arity_of(func)
    results = []
    for key, value in obj.items():
        result = func(*[read_value(value), key, obj][:arity])
        if type(result) is FunctionType:
            raise Fallback("$each to functions")
        if result is not UNDEF:
            results.append(result)
    return collapse(results)


def _reduce(args: list[Any]) -> Any:
    """``$reduce(array, function($total, $item[, $index]) [, init])``, folding from the left."""
    _arity(args, 2, 3)
    items, func = args[0], _function_arg(args[1])
    init = args[2] if len(args) == 3 else UNDEF
    if items is UNDEF:
        return UNDEF
    if type(items) is not list:
        items = [items]
    arity = _arity_of(func)
    if arity < 2 or arity > 3:
        raise Fallback("$reduce with a function of this arity")
    if init is UNDEF:
        if not items:
            raise Fallback("$reduce of nothing without a start")  # jsonatapy gives null there
        total, start = items[0], 1
    else:
        total, start = init, 0
    for index in range(start, len(items)):
        total = func(*[total, items[index], index][:arity])
    return total


def _append(args: list[Any]) -> Any:
    """``$append(a, b)``: an array of both (either undefined is the other as it is)."""
    _arity(args, 2, 2)
    first, second = args
    if type(first) is FunctionType or type(second) is FunctionType:
        raise Fallback("$append of a function")
    if first is UNDEF:
        return second
    if second is UNDEF:
        return first
    return (first if type(first) is list else [first]) + (second if type(second) is list else [second])


def _distinct(args: list[Any]) -> Any:
    """``$distinct`` of a value whose origin (sequence or array) is not known; the code generator passes what it
    knows to :func:`unimeter.spec.fastpath_paths.distinct_of` directly."""
    _arity(args, 1, 1)
    return distinct_of(args[0], None)


def _merge(args: list[Any]) -> Any:
    _arity(args, 1, 1)
    items = args[0]
    if items is UNDEF:
        return UNDEF
    if type(items) is not list:
        items = [items]
    merged: dict[str, Any] = {}
    for item in items:
        if type(item) is not dict:
            raise Fallback("$merge of a non-object")
        for key, value in item.items():
            merged[key] = opened(value)
    return merged


def _abs(args: list[Any]) -> Any:
    _arity(args, 1, 1)
    value = args[0]
    if value is UNDEF:
        return UNDEF
    if not is_number(value):
        raise Fallback("$abs of a non-number")
    return abs(value)


_NUMBER_TEXT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def _number(args: list[Any]) -> Any:
    _arity(args, 1, 1)
    value = args[0]
    if value is UNDEF or is_number(value):
        return value
    if type(value) is bool:
        return 1 if value else 0
    if type(value) is str and _NUMBER_TEXT.fullmatch(value):
        return number(float(value))
    raise Fallback("$number of this value")


_INSTANT = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}))?Z)?")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _to_millis(args: list[Any]) -> Any:
    _arity(args, 1, 1)
    value = args[0]
    if value is UNDEF:
        return UNDEF
    return _millis_of(_string_arg(value))


@functools.lru_cache(maxsize=4096)
def _millis_of(text: str) -> int:
    """Memoised: a page compares the same window bounds and days many times over."""
    match = _INSTANT.fullmatch(text)
    if match is None:
        raise Fallback("$toMillis of an unusual timestamp")
    year, month, day, hour, minute, second, millis = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=UTC
        )
    except ValueError:
        raise Fallback("$toMillis of an invalid date") from None
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 + int(millis or 0)


_DAY_PICTURE = "[Y0001]-[M01]-[D01]"
_SECOND_PICTURE = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01]Z"


def _from_millis(args: list[Any]) -> Any:
    _arity(args, 1, 2)
    value = args[0]
    if value is UNDEF:
        return UNDEF
    millis = _integer_arg(value)
    picture = args[1] if len(args) == 2 else UNDEF
    if picture is not UNDEF and picture != _DAY_PICTURE and picture != _SECOND_PICTURE:
        raise Fallback("$fromMillis with a picture")
    return _instant_of(millis, None if picture is UNDEF else picture)


@functools.lru_cache(maxsize=4096)
def _instant_of(millis: int, picture: str | None) -> str:
    try:
        moment = _EPOCH + timedelta(milliseconds=millis)
    except OverflowError:
        raise Fallback("$fromMillis out of range") from None
    if not 1 <= moment.year <= 9999:
        raise Fallback("$fromMillis out of range")
    day = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    if picture == _DAY_PICTURE:
        return day
    seconds = f"{day}T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    if picture == _SECOND_PICTURE:
        return seconds + "Z"
    return f"{seconds}.{moment.microsecond // 1000:03d}Z"


BUILTINS: dict[str, Callable[[list[Any]], Any]] = {
    "string": _string,
    "type": _type,
    "exists": _exists,
    "count": _count,
    "sum": _sum,
    "substring": _substring,
    "lowercase": _case(str.lower),
    "uppercase": _case(str.upper),
    "not": _not,
    "boolean": _boolean,
    "lookup": _lookup,
    "join": _join,
    "keys": _keys,
    "sort": _sort,
    "split": _split,
    "map": _map,
    "filter": _filter,
    "merge": _merge,
    "each": _each,
    "reduce": _reduce,
    "append": _append,
    "distinct": _distinct,
    "abs": _abs,
    "number": _number,
    "toMillis": _to_millis,
    "fromMillis": _from_millis,
}
"""JSONata name (without ``$``) to implementation."""
