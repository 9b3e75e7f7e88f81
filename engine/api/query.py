"""The list endpoint's query string, parsed into a :class:`UsageQuery` (no HTTP types: the CLI builds the same).

Reserved parameters (``truto_*``, ``limit``, ``next_cursor``, ``remote_query[...]``) are taken out; what remains are
the integration's own parameters, which the pipeline checks against the mapping. A repeated parameter is an error,
never "last one wins".
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import InvalidParameterError
from .formats import RESPONSE_FORMATS

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
TRUTO_PARAMETERS = frozenset(
    {
        "truto_response_format",
        "truto_key_by",
        "truto_ignore_limit",
        "truto_ignore_remote_data",
        "truto_exclude_fields",
        "truto_skip_api_call",
    }
)
RESERVED = TRUTO_PARAMETERS | {"integrated_account_id", "limit", "next_cursor"}
"""The endpoint's own parameters: each given at most once, never passed to an integration."""
_BRACKET = re.compile(r"^(?P<name>[a-z_]+)\[(?P<key>[^\]]*)\]$")


@dataclass
class UsageQuery:
    """One list-usage call; ``params`` are the integration's own parameters."""

    account_id: str
    response_format: str = "unified"
    key_by: str | None = None
    ignore_limit: bool = False
    ignore_remote_data: bool = False
    skip_api_call: bool = False
    """``truto_skip_api_call``: check the query, call no vendor, answer an empty result (``debug`` null)."""
    exclude: list[str] = field(default_factory=list)
    remote_query: dict[str, str] = field(default_factory=dict)
    limit: int = DEFAULT_LIMIT
    next_cursor: str | None = None
    params: dict[str, str | list[str]] = field(default_factory=dict)
    """A parameter given once is a string; given several times, or as ``name[]``, a list (only a list parameter of
    the integration accepts one: the pipeline checks that against the mapping)."""


def _boolean(name: str, raw: str | None) -> bool:
    if raw is None or raw == "":
        return False
    if raw.lower() in {"true", "1"}:
        return True
    if raw.lower() in {"false", "0"}:
        return False
    raise InvalidParameterError(f"invalid value {raw!r} for {name!r}: expected true or false", parameter=name)


def _limit(raw: str) -> int:
    """``limit`` from ASCII digits only: ``str.isdigit`` also accepts "²", and ``int`` refuses over 4300 digits."""
    if not raw:
        return DEFAULT_LIMIT
    if raw.isascii() and raw.isdigit():
        digits = raw.lstrip("0") or "0"
        if len(digits) <= len(str(MAX_LIMIT)) and 1 <= int(digits) <= MAX_LIMIT:
            return int(digits)
    raise InvalidParameterError(
        f"invalid limit {raw[:20]!r}: expected an integer from 1 to {MAX_LIMIT}", parameter="limit"
    )


def parse_usage_query(items: Iterable[tuple[str, str]]) -> UsageQuery:
    """The query from its ``(name, value)`` pairs, in order, as a query string carries them."""
    single: dict[str, str] = {}
    exclude: list[str] = []
    remote: dict[str, str] = {}
    params: dict[str, str | list[str]] = {}
    for name, value in items:
        bracket = _BRACKET.match(name)
        if (bracket and bracket["name"] == "truto_exclude_fields") or name == "truto_exclude_fields":
            exclude.extend(v for v in value.split(",") if v)
        elif bracket and bracket["name"] == "remote_query" and bracket["key"]:
            if bracket["key"] in remote:
                raise InvalidParameterError(f"the parameter {name!r} is given more than once", parameter=name)
            remote[bracket["key"]] = value
        elif name in RESERVED or name.startswith("truto_"):
            if name in single:
                raise InvalidParameterError(f"the parameter {name!r} is given more than once", parameter=name)
            single[name] = value
        elif bracket and not bracket["key"]:
            # ``name[]=a&name[]=b``: a list however many values it has.
            listed = params.setdefault(bracket["name"], [])
            if not isinstance(listed, list):
                listed = params[bracket["name"]] = [listed]
            listed.append(value)
        elif name in params:
            earlier = params[name]
            params[name] = [*earlier, value] if isinstance(earlier, list) else [earlier, value]
        else:
            params[name] = value
    unknown = sorted(name for name in single if name.startswith("truto_") and name not in RESERVED)
    if unknown:
        raise InvalidParameterError(
            f"unknown parameter {unknown[0]!r}: the truto_ parameters are {', '.join(sorted(TRUTO_PARAMETERS))}",
            parameter=unknown[0],
        )
    account_id = single.pop("integrated_account_id", "")
    if not account_id:
        raise InvalidParameterError(
            "the parameter 'integrated_account_id' is required (a UUID)", parameter="integrated_account_id"
        )
    try:
        uuid.UUID(account_id)
    except ValueError:
        raise InvalidParameterError(
            f"invalid integrated_account_id {account_id!r}: expected a UUID", parameter="integrated_account_id"
        ) from None
    response_format = single.pop("truto_response_format", "unified") or "unified"
    if response_format not in RESPONSE_FORMATS:
        raise InvalidParameterError(
            f"invalid truto_response_format {response_format!r}: expected one of {', '.join(RESPONSE_FORMATS)}",
            parameter="truto_response_format",
        )
    limit = _limit(single.pop("limit", ""))
    return UsageQuery(
        account_id=account_id,
        response_format=response_format,
        key_by=single.pop("truto_key_by", None) or None,
        ignore_limit=_boolean("truto_ignore_limit", single.pop("truto_ignore_limit", None)),
        ignore_remote_data=_boolean("truto_ignore_remote_data", single.pop("truto_ignore_remote_data", None)),
        skip_api_call=_boolean("truto_skip_api_call", single.pop("truto_skip_api_call", None)),
        exclude=exclude,
        remote_query=remote,
        limit=limit,
        next_cursor=single.pop("next_cursor", None) or None,
        params=params,
    )
