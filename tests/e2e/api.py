"""The control and messages API as the end-to-end tests call it, with the default config's local-dev app."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.gateway import API_ID, API_SECRET, GatewayThread

HEADERS = {"asapp-api-id": API_ID, "asapp-api-secret": API_SECRET}


async def control(session: aiohttp.ClientSession, gateway: GatewayThread, kind: str, body: dict[str, Any]) -> Any:
    """POST {kind}-streaming ("start" or "stop"); the JSON answer with its HTTP status under "status"."""
    async with session.post(
        f"{gateway.base_url}/mg-autotranscribe/v1/{kind}-streaming", json=body, headers=HEADERS
    ) as response:
        return {"status": response.status, **(await response.json())}


async def messages(session: aiohttp.ClientSession, gateway: GatewayThread, guid: str) -> list[dict[str, Any]]:
    """The stored transcript messages of a call, as GET /conversation/v1/conversation/messages returns them."""
    async with session.get(
        f"{gateway.base_url}/conversation/v1/conversation/messages", params={"externalId": guid}, headers=HEADERS
    ) as response:
        return list((await response.json())["messages"])


def by_start(stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages in call time (their utterance start), whatever the order they were stored in."""
    return sorted(stored, key=lambda m: m["autotranscribeResponse"]["start"])
