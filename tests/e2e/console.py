"""The console's API as a browser calls it, over real HTTP: login cookie, CSRF header, server-sent events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from tests.gateway import API_ID, API_SECRET, GatewayThread


async def log_in(
    session: aiohttp.ClientSession, gateway: GatewayThread, app_id: str = API_ID, secret: str = API_SECRET
) -> dict[str, Any]:
    """Logs `session` in (its cookie jar keeps the cookie); the session's JSON, with the CSRF token."""
    async with session.post(
        f"{gateway.base_url}/console/api/login", json={"appId": app_id, "secret": secret}
    ) as response:
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


def cookie_jar() -> aiohttp.CookieJar:
    return aiohttp.CookieJar(unsafe=True)  # the gateway is at 127.0.0.1: an IP host's cookies are kept too


async def events(session: aiohttp.ClientSession, gateway: GatewayThread, query: str = "") -> AsyncIterator[Any]:
    """The console's live feed as (event, data) pairs, as they arrive."""
    async with session.get(f"{gateway.base_url}/console/api/events{query}", timeout=aiohttp.ClientTimeout()) as answer:
        assert answer.status == 200, await answer.text()
        event = ""
        async for raw in answer.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                yield event, json.loads(line[len("data: ") :])
