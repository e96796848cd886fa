"""Configuration API for redaction entities: list, fetch, and turn on or off (persisted across restarts)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from mediagw.api.bodies import json_body
from mediagw.api.errors import ApiError
from mediagw.api.routes import AUTH, SERVICES
from mediagw.outputs.store_settings import keep_entity_settings
from redaction import ner
from redaction.entities import ENTITIES, Entity, EntityId, UnknownEntity
from redaction.settings import EntityLocked

PREFIXES = ("/configuration/v1/redaction/redaction-entities", "/configuration/v1/redaction-entities")
SINGLE = ("/configuration/v1/redaction/redaction-entity/{entityId}", "/configuration/v1/redaction-entities/{entityId}")


def add_routes(app: web.Application) -> None:
    for path in PREFIXES:
        app.router.add_get(path, list_entities)
    for path in SINGLE:
        app.router.add_get(path, get_entity)
        app.router.add_patch(path, patch_entity)


def _resource(entity: Entity, active: frozenset[EntityId], details: bool = False) -> dict[str, Any]:
    """The reference's four fields; with `?details=true` the catalogue's own too (camelCase, as the reference)."""
    resource: dict[str, Any] = {
        "id": entity.id.value,
        "name": entity.name,
        "description": entity.description,
        "active": entity.id in active,
    }
    if details:
        resource |= {
            "label": entity.label,
            "category": entity.category.value,
            "activeByDefault": entity.active_by_default,
            "maskStyle": entity.mask_style.value,
            "examples": list(entity.examples),
            "needsModel": entity.needs_ner,
        }
    return resource


def _details(request: web.Request) -> bool:
    value = request.query.get("details", "false")
    if value not in ("true", "false"):
        raise ApiError(400, "400-01", "details must be true or false")
    return value == "true"


async def _entity(request: web.Request) -> Entity:
    await request.app[AUTH].authenticate(request, "configuration")
    entity_id = request.match_info["entityId"]
    if entity_id not in EntityId.__members__:
        raise ApiError(404, "404-01", str(UnknownEntity(entity_id)))
    return ENTITIES[EntityId(entity_id)]


async def list_entities(request: web.Request) -> web.Response:
    await request.app[AUTH].authenticate(request, "configuration")
    active = request.app[SERVICES].entity_settings.active
    only = request.query.get("active")
    if only not in (None, "true", "false"):
        raise ApiError(400, "400-01", "active must be true or false")
    details = _details(request)
    entities = [
        _resource(e, active, details) for e in ENTITIES.values() if only is None or (e.id in active) == (only == "true")
    ]
    return web.json_response({"redactionEntities": entities, "nextCursor": None, "prevCursor": None})


async def get_entity(request: web.Request) -> web.Response:
    entity = await _entity(request)
    return web.json_response(_resource(entity, request.app[SERVICES].entity_settings.active, _details(request)))


async def patch_entity(request: web.Request) -> web.Response:
    entity = await _entity(request)
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("active"), bool):
        raise ApiError(400, "400-02", 'request body must be {"active": true|false}')
    settings = request.app[SERVICES].entity_settings
    try:
        if body["active"] and entity.needs_ner:
            ner.require({entity.id})
            await asyncio.to_thread(ner.pipeline)  # loaded now, off the loop: no utterance waits for it
        settings.set_active(entity.id, body["active"])
        await keep_entity_settings(request.app[SERVICES].store, settings)
    except EntityLocked as error:
        raise ApiError(403, "403-01", str(error)) from error
    except ner.NerUnavailable as error:
        raise ApiError(409, "409-01", str(error)) from error
    return web.json_response(_resource(entity, settings.active))
