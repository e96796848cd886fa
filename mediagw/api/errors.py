"""API errors carry the documented "HTTP-SUBCODE" code; one middleware shapes them as {"error": {...}}."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

log = logging.getLogger(__name__)

REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, http_status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})  # e.g. Retry-After on a 503


def error_response(request_id: str, error: ApiError) -> web.Response:
    body = {"error": {"requestId": request_id, "message": error.message, "code": error.code}}
    headers = {**error.headers, "X-Request-Id": request_id}
    return web.json_response(body, status=error.http_status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request.headers.get("X-Request-Id") or str(uuid.uuid4())
    request[REQUEST_ID] = request_id
    try:
        return await handler(request)
    except ApiError as error:
        log.info(
            "%s %s -> %s: %s",
            request.method,
            request.path,
            error.code,
            error.message,
            extra={"request_id": request_id, "code": error.code},
        )
        return error_response(request_id, error)
    except ConnectionResetError:  # the client went away mid-request (its body unread): nothing to answer
        log.info("%s %s: client disconnected", request.method, request.path, extra={"request_id": request_id})
        return error_response(request_id, ApiError(400, "400-01", "request body incomplete"))
    except web.HTTPException as http:
        if http.status < 400:
            raise
        return error_response(request_id, ApiError(http.status, f"{http.status}-01", http.reason))
    except Exception:
        log.exception("%s %s failed", request.method, request.path, extra={"request_id": request_id})
        return error_response(request_id, ApiError(500, "500-01", "Internal server error"))
