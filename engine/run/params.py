"""Validate the caller's unified query parameters against what an integration declares, and fill defaults.

A parameter the integration does not support is an error naming it and listing what it accepts; a malformed value
names the parameter and the expected format. Defaults are JSONata, so they can depend on the pinned clock and on the
other parameters (an end date can default to the end of the start date's month).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from ..errors import InvalidParameterError, MappingError, QueryCheckError, UnsupportedParameterError
from ..spec.functions import format_instant, parse_instant
from ..spec.model import IntegrationSpec, ParamSpec
from ..spec.scope import Scope

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FORMATS = {
    "date": "a date YYYY-MM-DD from 1970 to 8999",
    "date-time": "a date YYYY-MM-DD or an RFC 3339 date-time such as 2026-10-01T00:00:00Z, from 1970 to 8999",
    "integer": "an integer",
    "boolean": "true or false",
    "string": "a string",
}


FIRST_YEAR, LAST_YEAR = 1970, 9000
"""Dates outside these years mean nothing to a usage API, and near year 1 or 9999 date arithmetic overflows."""


def _within_years(year: int) -> None:
    if not FIRST_YEAR <= year < LAST_YEAR:
        raise ValueError


def _describe(spec: ParamSpec) -> str:
    if spec.enum:
        return "one of " + ", ".join(spec.enum)
    return _FORMATS[spec.type]


def _parse_value(spec: ParamSpec, raw: Any) -> Any:
    """Convert one raw value (usually a query-string string) to the declared type; ValueError when malformed."""
    if spec.type == "date":
        text = str(raw).strip()
        if not _DATE_RE.match(text):
            raise ValueError
        _within_years(date.fromisoformat(text).year)
        return text
    if spec.type == "date-time":
        text = str(raw).strip()
        if _DATE_RE.match(text):
            _within_years(date.fromisoformat(text).year)
            return text
        instant = parse_instant(text)
        _within_years(instant.year)
        return format_instant(instant)
    if spec.type == "integer":
        if isinstance(raw, bool):
            raise ValueError
        if isinstance(raw, int):
            return raw
        text = str(raw).strip()
        if not re.fullmatch(r"-?\d+", text):
            raise ValueError
        return int(text)
    if spec.type == "boolean":
        if isinstance(raw, bool):
            return raw
        lowered = str(raw).strip().lower()
        if lowered not in {"true", "false"}:
            raise ValueError
        return lowered == "true"
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise ValueError
    text = str(raw)
    if spec.enum and text not in spec.enum:
        raise ValueError
    return text


def _invalid(param: ParamSpec, raw: Any) -> InvalidParameterError:
    expected = f"a list of {_describe(param)}" if param.is_list else _describe(param)
    return InvalidParameterError(
        f"invalid value {raw!r} for parameter {param.name!r}: expected {expected}"
        + (f" ({param.note})" if param.note else ""),
        parameter=param.name,
    )


def _parse_given(param: ParamSpec, raw: Any) -> Any:
    """A caller's value: a list parameter takes one value or several (each checked), any other exactly one, since
    silently keeping the first or the last of two values would answer a different question than the one asked."""
    if isinstance(raw, list | tuple):
        if not param.is_list:
            raise InvalidParameterError(
                f"the parameter {param.name!r} is given more than once ({len(raw)} values); it takes one value: "
                f"{_describe(param)}",
                parameter=param.name,
            )
        values = [item for item in raw if item is not None and item != ""]
    else:
        values = [raw]
    parsed: list[Any] = []
    for item in values:
        try:
            value = _parse_value(param, item)
        except ValueError:
            raise _invalid(param, item) from None
        if value not in parsed:
            parsed.append(value)
    return parsed if param.is_list else parsed[0]


def _parse_default(param: ParamSpec, value: Any) -> Any:
    """A default's value, a list for a list parameter (a single value becomes a list of one); ValueError if bad."""
    if not param.is_list:
        return _parse_value(param, value)
    items = value if isinstance(value, list) else [value]
    return [_parse_value(param, item) for item in items]


def resolve_params(spec: IntegrationSpec, given: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters an operation sees as ``$params``: given ones parsed, missing ones defaulted, checks applied."""
    unknown = sorted(set(given) - set(spec.params))
    if unknown:
        supported = ", ".join(sorted(spec.params)) or "none"
        raise UnsupportedParameterError(
            f"{spec.name} does not support the parameter {unknown[0]!r}; it supports: {supported}",
            parameter=unknown[0],
            supported=sorted(spec.params),
        )
    params: dict[str, Any] = {}
    for name, param in spec.params.items():
        if name not in given or given[name] is None or given[name] == "" or given[name] == []:
            continue
        value = _parse_given(param, given[name])
        if value != []:
            params[name] = value
    for name, param in spec.params.items():
        if name in params:
            continue
        if param.default is not None:
            value = param.default.evaluate(None, Scope(params=dict(params), context=dict(context)))
            if value is not None:
                try:
                    params[name] = _parse_default(param, value)
                except ValueError:
                    raise MappingError(
                        f"{spec.name} ({spec.file_name}): the default of parameter {name!r} evaluated to "
                        f"{value!r}, not {_describe(param)}",
                        key_path=f"params.{name}.default",
                    ) from None
                continue
        if param.required:
            raise InvalidParameterError(f"the parameter {name!r} is required: {_describe(param)}", parameter=name)
    for check in spec.checks:
        scope = Scope(params=params, context=dict(context))
        if check.fail_if.evaluate(None, scope) is True:
            raise QueryCheckError(str(check.message.evaluate(None, scope)))
    return params
