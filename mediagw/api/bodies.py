"""Request bodies: one reader for every endpoint that takes JSON, so a malformed body is always a 400."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from mediagw.api.errors import ApiError


async def json_body(request: web.Request, code: str = "400-01", empty: str | None = None) -> Any:
    """The body as JSON. Not UTF-8, not JSON, or nested too deep for the parser: 400 with `code`.

    `empty` stands for an absent body where the endpoint allows one (e.g. "{}"). A client that disconnects before
    its body is read raises ConnectionResetError, which the error middleware logs as a line, not a failure.
    """
    try:
        text = await request.text()
        return json.loads(empty if not text and empty is not None else text)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ApiError(400, code, "request body is not valid JSON") from error
