"""``GET /unified/usage-metering/usage``: translate the HTTP request to the use case and its answer to HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from ..api.list_usage import UsageService
from ..api.query import parse_usage_query
from .auth import authenticate


def usage_endpoint(service: UsageService) -> Callable[[Request], Awaitable[Response]]:
    """The route handler over ``service``; errors propagate to the app's exception handlers."""

    async def endpoint(request: Request) -> Response:
        environment = await authenticate(request, service.store)
        query = parse_usage_query(request.query_params.multi_items())
        response = await service.list_usage(query, environment=environment)
        if response.stream is not None:
            return StreamingResponse(response.stream, media_type="application/x-ndjson")
        return JSONResponse(response.body)

    return endpoint
