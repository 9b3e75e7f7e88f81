"""Build the vendor HTTP request of one page from an operation's request templates.

Values keep their JSON types: an array in the query becomes a repeated parameter (``group_by[]=a&group_by[]=b``);
a query value is rendered to text only at the very end (as HTTP requires), and a body
is sent as JSON built from the evaluated data, never from rendered text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from ..errors import InvalidParameterError, MappingError
from ..spec.model import IntegrationSpec, OperationSpec
from ..spec.scope import Scope
from ..version import __version__
from .auth import auth_headers
from .pagination import PageState

USER_AGENT = f"unimeter/{__version__}"


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def resolve_base_url(spec: IntegrationSpec, scope: Scope) -> str:
    """The account's ``base_url`` when set (proxy, regional host, simulator), else the spec's."""
    override = scope.context.get("base_url")
    base = override if override else spec.base_url.evaluate(None, scope)
    if not isinstance(base, str) or not base.startswith(("http://", "https://")):
        raise MappingError(f"{spec.name}: base URL {base!r} is not an http(s) URL", key_path="base_url")
    return base


def _pass_through(
    spec: IntegrationSpec, operation: OperationSpec, sent: Mapping[str, Any], remote_query: Mapping[str, Any]
) -> Mapping[str, Any]:
    """``remote_query`` adds vendor parameters the mapping does not send; replacing one it sends (its dates, its
    page) would mislabel the data it returns, so that is a 400 naming the parameter."""
    template = operation.request.query
    own = set(sent) | (
        set(template.children) if template is not None and isinstance(template.children, dict) else set()
    )
    for name in remote_query:
        if name in own:
            raise InvalidParameterError(
                f"remote_query[{name}] would replace the vendor parameter {name!r} that {spec.name} sends itself "
                "(rows would be labelled with the wrong period or page); use the unified parameters instead",
                parameter=f"remote_query[{name}]",
            )
    return remote_query


def build_request(
    spec: IntegrationSpec,
    operation: OperationSpec,
    *,
    base_url: str,
    scope: Scope,
    page: PageState,
    credentials: Mapping[str, Any],
    remote_query: Mapping[str, Any] | None = None,
) -> httpx.Request:
    """One page's request. A page's ``next_url`` (absolute, resolved by the paginator) replaces path and query."""
    request = operation.request
    headers: dict[str, str] = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if request.headers is not None:
        headers.update({k: _query_text(v) for k, v in (request.headers.evaluate(None, scope) or {}).items()})
    headers.update(auth_headers(spec.auth, credentials, scope))
    if page.next_url is not None:
        url = httpx.URL(page.next_url)
    else:
        path = request.path.evaluate(None, scope)
        if not isinstance(path, str):
            raise MappingError(
                f"{spec.name}: request path evaluated to {path!r}, not a string", key_path=request.path.key_path
            )
        evaluated = request.query.evaluate(None, scope) if request.query is not None else {}
        query = {**(evaluated or {}), **_pass_through(spec, operation, evaluated or {}, remote_query or {})}
        pairs = [
            (name, _query_text(item))
            for name, value in query.items()
            for item in (value if isinstance(value, list) else [value])
            if item is not None
        ]
        url = httpx.URL(base_url.rstrip("/") + "/" + path.lstrip("/"), params=pairs)
    content = None
    if request.body is not None and request.method != "GET":
        body = request.body.evaluate(None, scope)
        content = json.dumps(body, separators=(",", ":")).encode("utf-8")
        headers["Content-Type"] = "application/json"
    return httpx.Request(request.method, url, headers=headers, content=content)
