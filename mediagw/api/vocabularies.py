"""Custom vocabulary API: gateway-wide phrases (with sounds-like forms) applied to every call's recognition."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from mediagw.api.bodies import json_body
from mediagw.api.errors import ApiError
from mediagw.api.routes import AUTH, SERVICES
from mediagw.services import Services
from mediagw.vocabulary import VocabularyPhrase

PREFIXES = ("/configuration/v1/auto-transcribe/custom-vocabularies", "/configuration/v1/custom-vocabularies")
MAX_ENTRIES = 200
MAX_SOUNDS_LIKE = 5
MAX_SOUNDS_LIKE_CHARS = 40
PAGE = 20


def add_routes(app: web.Application) -> None:
    for prefix in PREFIXES:
        app.router.add_get(prefix, list_vocabularies)
        app.router.add_post(prefix, create_vocabulary)
        app.router.add_get(prefix + "/{customVocabularyId}", get_vocabulary)
        app.router.add_delete(prefix + "/{customVocabularyId}", delete_vocabulary)


async def load(services: Services) -> None:
    """Rebuild the gateway-wide vocabulary from the store; recognition sees it from the next utterance."""
    assert services.store is not None
    entries = await services.store.vocabularies()
    services.custom_vocabulary.replace([VocabularyPhrase(p, tuple(s.lower() for s in sl)) for _, p, sl in entries])


def _resource(entry: tuple[str, str, list[str]]) -> dict[str, Any]:
    return {"id": entry[0], "phrase": entry[1], "soundsLike": entry[2]}


async def _services(request: web.Request) -> Services:
    await request.app[AUTH].authenticate(request, "configuration")
    services = request.app[SERVICES]
    if services.store is None:
        raise ApiError(500, "500-01", "The store is not available")
    return services


async def list_vocabularies(request: web.Request) -> web.Response:
    services = await _services(request)
    assert services.store is not None
    entries = await services.store.vocabularies()
    try:
        limit = int(request.query.get("limit", PAGE))
    except ValueError as error:
        raise ApiError(400, "400-01", "limit must be a number") from error
    if not 1 <= limit <= MAX_ENTRIES:
        raise ApiError(400, "400-01", f"limit must be 1..{MAX_ENTRIES}")
    ids = [e[0] for e in entries]
    cursor = request.query.get("cursor")
    if cursor is not None and cursor not in ids:
        raise ApiError(400, "400-01", "unknown cursor")
    start = ids.index(cursor) if cursor else 0
    page = entries[start : start + limit]
    return web.json_response(
        {
            "customVocabularies": [_resource(e) for e in page],
            "nextCursor": ids[start + limit] if start + limit < len(ids) else None,
            "prevCursor": ids[max(0, start - limit)] if start > 0 else None,
        }
    )


async def get_vocabulary(request: web.Request) -> web.Response:
    services = await _services(request)
    assert services.store is not None
    wanted = request.match_info["customVocabularyId"]
    for entry in await services.store.vocabularies():
        if entry[0] == wanted:
            return web.json_response(_resource(entry))
    raise ApiError(404, "404-01", "No custom vocabulary with that id")


async def create_vocabulary(request: web.Request) -> web.Response:
    services = await _services(request)
    assert services.store is not None
    body = await json_body(request)
    phrase, sounds_like = _validate(body)
    if len(await services.store.vocabularies()) >= MAX_ENTRIES:
        raise ApiError(400, "400-03", f"at most {MAX_ENTRIES} custom vocabulary entries")
    entry = (str(uuid.uuid4()), phrase, sounds_like)
    await services.store.add_vocabulary(*entry)
    await load(services)
    return web.json_response(_resource(entry))


def _validate(body: Any) -> tuple[str, list[str]]:
    if not isinstance(body, dict) or not isinstance(body.get("phrase"), str) or not body["phrase"].strip():
        raise ApiError(400, "400-02", "phrase is required")
    if len(body["phrase"]) > 100:
        raise ApiError(400, "400-02", "phrase is longer than 100 characters")
    sounds_like = body.get("soundsLike", [])
    if not isinstance(sounds_like, list) or not all(isinstance(s, str) and s.strip() for s in sounds_like):
        raise ApiError(400, "400-02", "soundsLike must be a list of strings")
    if len(sounds_like) > MAX_SOUNDS_LIKE or any(len(s) > MAX_SOUNDS_LIKE_CHARS for s in sounds_like):
        raise ApiError(400, "400-02", f"at most {MAX_SOUNDS_LIKE} soundsLike of {MAX_SOUNDS_LIKE_CHARS} characters")
    return body["phrase"].strip(), [s.strip() for s in sounds_like]


async def delete_vocabulary(request: web.Request) -> web.Response:
    services = await _services(request)
    assert services.store is not None
    if not await services.store.delete_vocabulary(request.match_info["customVocabularyId"]):
        raise ApiError(404, "404-01", "No custom vocabulary with that id")
    await load(services)
    return web.Response(status=204)
