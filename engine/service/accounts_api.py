"""``/integrated-accounts``: create, list, get, update and delete accounts within the caller's environment."""

from __future__ import annotations

import hashlib
import json
import uuid
from functools import partial
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import InvalidParameterError
from .auth import authenticate

MAX_JSON_DEPTH = 32


def _not_json_number(name: str) -> Any:
    raise InvalidParameterError(f"the request body holds {name}, which is not a JSON number", parameter="body")


def _nesting(text: str) -> int:
    """How deep ``text``'s arrays and objects nest (outside strings): checked before parsing, because the stdlib
    parser recurses and a deep enough body would fail with a RecursionError instead of a 400."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_json_body(raw: bytes) -> Any:
    """Strict JSON (RFC 8259): no ``NaN`` or ``Infinity``, at most :data:`MAX_JSON_DEPTH` levels deep."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameterError("the request body is not UTF-8", parameter="body") from None
    if _nesting(text) > MAX_JSON_DEPTH:
        raise InvalidParameterError(f"the request body is nested deeper than {MAX_JSON_DEPTH} levels", parameter="body")
    try:
        return json.loads(text, parse_constant=_not_json_number)
    except json.JSONDecodeError as error:
        raise InvalidParameterError(
            f"the request body is not JSON: {error.msg} at line {error.lineno} column {error.colno}", parameter="body"
        ) from None


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: an object patch merges key by key (null deletes); anything else replaces the target."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


class AccountsApi:
    """``/integrated-accounts``: create, list, get, update, delete within the caller's environment."""

    def __init__(self, store: Any) -> None:
        self.store = store

    async def _json(self, request: Request) -> dict[str, Any]:
        body = parse_json_body(await request.body())
        if not isinstance(body, dict):
            raise InvalidParameterError("the request body must be a JSON object", parameter="body")
        for name in ("credentials", "context"):
            if name in body and not isinstance(body[name], dict):
                raise InvalidParameterError(f"{name!r} must be an object of strings", parameter=name)
        return body

    async def create(self, request: Request) -> Response:
        """Create an account; with an ``Idempotency-Key`` header, a retry of the same body gets the first answer
        (``Idempotent-Replayed: true``) instead of a second account, and another body under that key a 422."""
        environment = await authenticate(request, self.store)
        body = await self._json(request)
        if not isinstance(body.get("integration"), str):
            raise InvalidParameterError("'integration' is required", parameter="integration")
        key = request.headers.get("idempotency-key")
        if key is not None:
            fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
            public, replayed = await run_in_threadpool(
                partial(
                    self.store.create_account_once,
                    body["integration"],
                    environment=environment,
                    credentials=body.get("credentials") or {},
                    context=body.get("context"),
                    idempotency_key=key,
                    fingerprint=fingerprint,
                )
            )
            headers = {"Idempotent-Replayed": "true"} if replayed else None
            return JSONResponse(public, status_code=201, headers=headers)
        account = await run_in_threadpool(
            partial(
                self.store.create_account,
                body["integration"],
                environment=environment,
                credentials=body.get("credentials") or {},
                context=body.get("context"),
            )
        )
        return JSONResponse(account.to_public(), status_code=201)

    async def list(self, request: Request) -> Response:
        environment = await authenticate(request, self.store)
        accounts = await run_in_threadpool(self.store.list_accounts, environment)
        return JSONResponse({"result": [a.to_public() for a in accounts]})

    def _id(self, request: Request) -> str:
        account_id = str(request.path_params["account_id"])
        try:
            uuid.UUID(account_id)
        except ValueError:
            raise InvalidParameterError(
                f"invalid account id {account_id!r}: expected a UUID", parameter="account_id"
            ) from None
        return account_id

    async def get(self, request: Request) -> Response:
        environment = await authenticate(request, self.store)
        account = await run_in_threadpool(partial(self.store.get_account, self._id(request), environment=environment))
        return JSONResponse(account.to_public())

    async def update(self, request: Request) -> Response:
        environment = await authenticate(request, self.store)
        account_id = self._id(request)
        body = await self._json(request)
        context = body.get("context")
        if context is not None:
            # JSON Merge Patch (RFC 7396): the given fields replace theirs, null removes one, the rest stay.
            current = await run_in_threadpool(partial(self.store.get_account, account_id, environment=environment))
            context = merge_patch(current.context, context)
        account = await run_in_threadpool(
            partial(
                self.store.update_account,
                account_id,
                environment=environment,
                credentials=body.get("credentials"),
                context=context,
            )
        )
        return JSONResponse(account.to_public())

    async def delete(self, request: Request) -> Response:
        environment = await authenticate(request, self.store)
        await run_in_threadpool(partial(self.store.delete_account, self._id(request), environment=environment))
        return Response(status_code=204)
