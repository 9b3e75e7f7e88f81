"""``/api-tokens``: list the caller's environment's tokens, revoke one, or bring its expiry forward.

Creating tokens stays with the operator (``unimeter tokens create``): a token that could mint tokens, or push its own
expiry back, would let whoever leaked it outlive its revocation. Through this API a token can only lose power.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import InvalidParameterError
from ..store.expiry import parse_expiry
from .accounts_api import parse_json_body
from .auth import authenticate


class TokensApi:
    """``GET /api-tokens``, ``PATCH`` and ``DELETE /api-tokens/{token_id}``, within the caller's environment."""

    def __init__(self, store: Any) -> None:
        self.store = store

    async def list(self, request: Request) -> Response:
        environment = await authenticate(request, self.store)
        tokens = await run_in_threadpool(self.store.list_tokens, environment)
        now = datetime.now(UTC)
        return JSONResponse({"result": [token.to_public(now) for token in tokens]})

    async def update(self, request: Request) -> Response:
        """``{"expires_at": "2027-01-01T00:00:00Z"}`` (or a duration such as ``"7d"``): earlier than now set."""
        environment = await authenticate(request, self.store)
        body = parse_json_body(await request.body())
        if not isinstance(body, dict) or set(body) != {"expires_at"} or not isinstance(body["expires_at"], str):
            raise InvalidParameterError(
                'the body must be {"expires_at": "<RFC 3339 instant or duration such as 7d>"}', parameter="expires_at"
            )
        expires_at = parse_expiry(body["expires_at"], field="expires_at")
        token = await run_in_threadpool(
            partial(
                self.store.set_token_expiry,
                str(request.path_params["token_id"]),
                environment=environment,
                expires_at=expires_at,
                only_earlier=True,
            )
        )
        return JSONResponse(token.to_public(datetime.now(UTC)))

    async def revoke(self, request: Request) -> Response:
        environment = await authenticate(request, self.store)
        token = await run_in_threadpool(
            partial(self.store.revoke_token, str(request.path_params["token_id"]), environment=environment)
        )
        return JSONResponse(token.to_public(datetime.now(UTC)))
