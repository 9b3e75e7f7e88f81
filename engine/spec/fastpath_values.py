"""JSONata value semantics for the fast path (see :mod:`unimeter.spec.fastpath`), reproduced as jsonatapy applies them.

Only what the fast path is sure of is handled here; anything else raises :class:`Fallback`, and the whole evaluation is
redone by jsonatapy. Values are plain JSON data plus :data:`UNDEF` (JSONata's "undefined", distinct from null) and
functions the expression defines (plain Python functions in the generated code). jsonatapy carries numbers as 64-bit
floats and hands back integral ones as ``int``; the fast path keeps every number it holds in that same normal form
(:func:`number`).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from json.encoder import encode_basestring  # the C encoder json.dumps uses
from types import FunctionType
from typing import Any


class Fallback(Exception):
    """The fast path does not cover this input (an array under sequence semantics, an unusual type, ...)."""


class _Undefined:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNDEF"


UNDEF: Any = _Undefined()
"""JSONata's undefined: an object key whose value is undefined is left out; null keeps it."""

_INT_LIMIT = 2**53
_I64 = 2**63


def number(value: int | float) -> int | float:
    """A number as jsonatapy hands it back: through a 64-bit float, integral values as ``int``."""
    if type(value) is int:
        if -_INT_LIMIT <= value <= _INT_LIMIT:
            return value
        raise Fallback("integer beyond 2**53")
    if float.is_integer(value):
        if -_I64 <= value < _I64:
            return int(value)
        return value
    if math.isfinite(value):
        return value
    raise Fallback("non-finite number")


def is_number(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is float


def read_value(value: Any) -> Any:
    """A value read from the input data by a path, as jsonatapy gives it: a scalar in normal form, an object as the
    input's own dict (jsonatapy hands input objects through by reference, inner numbers untouched: ``{"x": 1.0}``
    stays so), an array as a new list of its items so (:func:`opened`; an array inside it falls back)."""
    kind = type(value)
    if kind is str or value is None or kind is bool or kind is dict or value is UNDEF:
        return value
    if kind is int and -_INT_LIMIT <= value <= _INT_LIMIT:
        return value
    if kind is int or kind is float:
        return number(value)
    if kind is list:
        return opened(value)
    raise Fallback(f"unsupported value type {kind.__name__}")


def opened(value: Any) -> Any:
    """A value taken out of an object by ``$merge``: jsonatapy normalises a number, and the numbers directly in an
    array; objects stay as they are."""
    kind = type(value)
    if kind is int or kind is float:
        return number(value)
    if kind is list:
        items = []
        for item in value:
            inner = type(item)
            if inner is int or inner is float:
                item = number(item)
            elif inner is list:
                raise Fallback("an array in an array")
            items.append(item)
        return items
    return value


def import_value(value: Any) -> Any:
    """A value of the bindings in the fast path's normal form: jsonatapy converts bindings whole (a copy, every number
    normalised), unlike the input data (:func:`read_value`)."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return value
    if kind is int or kind is float:
        return number(value)
    if kind is dict:
        return {key: import_value(item) for key, item in value.items()}
    if kind is list:
        return [import_value(item) for item in value]
    if value is UNDEF:
        return UNDEF
    raise Fallback(f"unsupported value type {kind.__name__}")


def boolean(value: Any) -> bool:
    """JSONata's boolean cast."""
    kind = type(value)
    if kind is bool:
        return value is True
    if kind is str:
        return value != ""  # type: ignore[no-any-return]
    if kind is int or kind is float:
        return value != 0  # type: ignore[no-any-return]
    if kind is dict:
        return len(value) > 0
    if kind is list:
        if len(value) == 1:
            return boolean(value[0])
        return any(boolean(item) for item in value)
    if value is None or value is UNDEF:
        return False
    raise Fallback("boolean of a function")


def equal(left: Any, right: Any) -> bool:
    """Deep equality as JSONata's ``=``: numbers by value, no coercion between types."""
    kl, kr = type(left), type(right)
    if kl is int or kl is float:
        if (kl is int and not -_INT_LIMIT <= left <= _INT_LIMIT) or (
            kr is int and not -_INT_LIMIT <= right <= _INT_LIMIT
        ):
            raise Fallback("comparing an integer beyond 2**53")  # the input's own objects can hold one
        return (kr is int or kr is float) and left == right
    if kl is not kr:
        if kl is FunctionType or kr is FunctionType:
            raise Fallback("comparison of a function")
        return False
    if kl is dict:
        return left.keys() == right.keys() and all(equal(left[key], right[key]) for key in left)
    if kl is list:
        return len(left) == len(right) and all(equal(a, b) for a, b in zip(left, right, strict=True))
    if kl is FunctionType:
        raise Fallback("comparison of a function")
    return bool(left == right)


def bmp_only(text: str) -> str:
    """``text`` when comparing or case-mapping it needs no UTF-16 subtleties (every character in the BMP)."""
    if not text.isascii() and max(text) > "\uffff":
        raise Fallback("a character outside the BMP")
    return text


def _digits(value: float) -> tuple[str, int]:
    """Shortest round-trip digits of ``value`` (positive) and the decimal exponent n with value = 0.digits x 10**n."""
    _sign, digits, exponent = Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    return text, len(digits) + exponent


def format_number(value: int | float) -> str:
    """A number as jsonatapy's ``$string`` writes it: an integral value in full, any other as ECMAScript
    ``String(Number(value.toPrecision(15)))`` (so ``0.1 + 0.2`` is ``0.3``). Integral values beyond 2**53 and
    non-integral ones beyond 10**15 fall back: how jsonatapy writes those was not worth reproducing."""
    if type(value) is int:
        return str(value)
    if float.is_integer(value):
        if -_INT_LIMIT <= value <= _INT_LIMIT:
            return str(int(value))
        raise Fallback("a large integral number as a string")
    if not math.isfinite(value) or abs(value) >= 1e15:
        raise Fallback("a large number as a string")
    number_value = value
    if len(_digits(abs(number_value))[0]) > 15:
        rounded = Decimal(number_value)
        quantum = Decimal(1).scaleb(rounded.adjusted() - 14)
        number_value = float(rounded.quantize(quantum, rounding=ROUND_HALF_UP))
    negative = number_value < 0
    digits, n = _digits(abs(number_value))
    k = len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
        text = f"{mantissa}e{'+' if e > 0 else '-'}{abs(e)}"
    return "-" + text if negative else text


def _json(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int or kind is float:
        return format_number(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is dict:
        return "{" + ",".join(encode_basestring(key) + ":" + _json(item) for key, item in value.items()) + "}"
    if kind is list:
        return "[" + ",".join(_json(item) for item in value) + "]"
    raise Fallback(f"string of {kind.__name__}")


def string(value: Any) -> Any:
    """``$string(value)``: undefined stays undefined."""
    kind = type(value)
    if kind is str:
        return value
    if value is UNDEF:
        return UNDEF
    return _json(value)


def concat_part(value: Any) -> str:
    """One operand of ``&``: undefined is the empty string."""
    if type(value) is str:
        return value
    if value is UNDEF:
        return ""
    return _json(value)


def collapse(items: list[Any]) -> Any:
    """A sequence as JSONata returns it: empty is undefined, one item is that item."""
    if not items:
        return UNDEF
    if len(items) == 1:
        return items[0]
    return items
