"""After-call retrieval: GET /conversation/v1/conversation/messages for a conversation's external id."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mediagw.api.bodies import json_body
from mediagw.api.errors import ApiError
from mediagw.api.routes import AUTH, SERVICES
from mediagw.outputs.store import StoredUtterance

MAX_MESSAGES = 1000


async def list_messages(request: web.Request) -> web.Response:
    await request.app[AUTH].authenticate(request, "messages")
    external_id, namespace = await _query(request)
    store = request.app[SERVICES].store
    if store is None:
        raise ApiError(500, "500-01", "The transcript store is not available")
    stored = await store.messages(namespace, external_id, MAX_MESSAGES)
    return web.json_response({"messages": [message_of(u) for u in stored]})


async def _query(request: web.Request) -> tuple[str, str | None]:
    """The external id from the query string or, as the reference's curl example sends it, a JSON body."""
    external_id = request.query.get("externalId")
    namespace = request.query.get("namespace")
    if external_id is None and request.can_read_body:
        body = await json_body(request, empty="{}")
        if isinstance(body, dict):
            external_id, namespace = body.get("externalId"), body.get("namespace", namespace)
    if not isinstance(external_id, str) or not external_id or len(external_id) > 256:
        raise ApiError(400, "400-02", "externalId is required (query parameter or JSON body)")
    if namespace is not None and not isinstance(namespace, str):
        raise ApiError(400, "400-02", "namespace must be a string")
    return external_id, namespace


def message_of(utterance: StoredUtterance) -> dict[str, Any]:
    """One stored utterance as the reference's transcript message, with its id, text and timestamp."""
    message: dict[str, Any] = {
        "id": utterance.id,
        "type": "transcript",
        "externalConversationId": utterance.conversation_external_id,
        "streamId": utterance.stream_id,
        "sender": {"externalId": utterance.participant_id, "role": utterance.role},
        "text": utterance.text,
        "timestamp": utterance.timestamp,
        "autotranscribeResponse": utterance.message,
    }
    if utterance.unredacted_text is not None:
        message["unredactedText"] = utterance.unredacted_text
    return message
