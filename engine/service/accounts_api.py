"""``/integrated-accounts``: create, list, get, update and delete accounts within the caller's environment."""

from __future__ import annotations

import json
import uuid
from functools import partial
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import InvalidParameterError
from .auth import authenticate


class AccountsApi:
    """``/integrated-accounts``: create, list, get, update, delete within the caller's environment."""

    def __init__(self, store: Any) -> None:
        self.store = store

    async def _json(self, request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InvalidParameterError("the request body must be a JSON object", parameter="body") from None
        if not isinstance(body, dict):
            raise InvalidParameterError("the request body must be a JSON object", parameter="body")
        for name in ("credentials", "context"):
            if name in body and not isinstance(body[name], dict):
                raise InvalidParameterError(f"{name!r} must be an object of strings", parameter=name)
        return body

    async def create(self, request: Request) -> Response:
        environment = await authenticate(request, self.store)
        body = await self._json(request)
        if not isinstance(body.get("integration"), str):
            raise InvalidParameterError("'integration' is required", parameter="integration")
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
        account = await run_in_threadpool(
            partial(
                self.store.update_account,
                account_id,
                environment=environment,
                credentials=body.get("credentials"),
                context=body.get("context"),
            )
        )
        return JSONResponse(account.to_public())

    async def delete(self, request: Request) -> Response:
        environment = await authenticate(request, self.store)
        await run_in_threadpool(partial(self.store.delete_account, self._id(request), environment=environment))
        return Response(status_code=204)
