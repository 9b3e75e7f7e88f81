"""``/integrations``: what each integration on the mapping search path offers, the same data as docs/integrations.md
(:func:`unimeter.docs_gen.integration_info`): credentials by name and purpose (never values), context, parameters,
fills, partition, rate limit, late data and each operation's pagination and money."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..docs_gen import integration_info, integrations_info
from ..spec.registry import integration_sources
from .auth import authenticate
from .request_id import request_id


class IntegrationsApi:
    """``GET /integrations`` and ``GET /integrations/{name}``, behind the same API token as every other route."""

    def __init__(self, store: Any) -> None:
        self.store = store

    async def list(self, request: Request) -> Response:
        await authenticate(request, self.store)
        return JSONResponse({"result": await run_in_threadpool(integrations_info)})

    async def get(self, request: Request) -> Response:
        await authenticate(request, self.store)
        name = request.path_params["name"]
        available = list(integration_sources())
        if name not in available:
            body = {
                "status": 404,
                "error": "unknown_integration",
                "message": f"no integration named {name!r}; available: {', '.join(available) or 'none'}",
                "details": {"integration": name},
                "request_id": request_id(request.scope),
            }
            return JSONResponse(body, status_code=404)
        return JSONResponse(await run_in_threadpool(integration_info, name))
