"""Routes of the HTTP API: streaming URL, health and metrics."""

from __future__ import annotations

import os
from urllib.parse import urlencode

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mediagw.api.auth import Authenticator
from mediagw.api.bodies import json_body
from mediagw.api.errors import ApiError
from mediagw.backends.redis_link import where
from mediagw.config import ServerConfig
from mediagw.services import Services
from mediagw.tokens import TWILIO

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
AUTH: web.AppKey[Authenticator] = web.AppKey("auth", Authenticator)


async def streaming_url(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    app_id = await request.app[AUTH].authenticate(request, "streaming")
    _refuse_while_draining(services)
    external_id = await _external_id(request)
    token = services.signer.issue(app_id, external_id)
    base = _public_base(request, services.config.server)
    url = f"{base}{services.config.websocket_api.path}?{urlencode({'token': token})}"
    return web.json_response({"streamingUrl": url})


async def twilio_media_stream_url(request: web.Request) -> web.Response:
    """A URL for <Stream url=...>: its token lasts 5 minutes and any number of calls may start with it."""
    services = request.app[SERVICES]
    app_id = await request.app[AUTH].authenticate(request, "streaming")
    _refuse_while_draining(services)
    token = services.signer.issue(app_id, "", audience=TWILIO)
    base = _public_base(request, services.config.server)
    return web.json_response({"streamingUrl": f"{base}{services.config.twilio.path}?{urlencode({'token': token})}"})


def _refuse_while_draining(services: Services) -> None:
    if services.draining:
        raise ApiError(503, "503-01", "Service shutting down: request a streaming URL from another node")


async def _external_id(request: web.Request) -> str:
    if not request.can_read_body:
        return ""
    body = await json_body(request, empty="{}")
    if not isinstance(body, dict):
        raise ApiError(400, "400-01", "request body must be a JSON object")
    external_id = body.get("externalId", "")
    if not isinstance(external_id, str) or len(external_id) > 256:
        raise ApiError(400, "400-02", "externalId must be a string of at most 256 characters")
    return external_id


def _public_base(request: web.Request, server: ServerConfig) -> str:
    """server.public_url, or else the request's Host when server.allowed_hosts allows it (empty: any)."""
    if server.public_url:
        return server.public_url.rstrip("/")
    if server.allowed_hosts and not host_allowed(request.host, server.allowed_hosts):
        raise ApiError(400, "400-01", "Host is not one this gateway serves (server.allowed_hosts)")
    scheme = "wss" if request.secure else "ws"
    return f"{scheme}://{request.host}"


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether a Host header names an allowed host: "name" allows it on any port, "name:port" on that port only."""
    host = host.lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return any(entry.lower() in (host, name) for entry in allowed)


async def health(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    problems = health_problems(services)
    if services.store is None or not await services.store.healthy():
        problems.append("transcript store is not usable")
    asr = _asr_status(services)
    if problems:
        return web.json_response({"healthCheck": "FAILED", "problems": problems, **asr}, status=503)
    return web.json_response({"healthCheck": "SUCCESS", **asr})


def _asr_status(services: Services) -> dict[str, object]:
    """The loaded model and the languages a start may name (beside the reference's healthCheck field)."""
    if services.remote_asr is not None:
        models = sorted({worker.model for worker in services.remote_asr.workers})
        workers = len(services.remote_asr.workers)
        return {
            "asr": {"backend": "redis", "workers": workers, "models": models, "languages": list(services.language_tags)}
        }
    if services.recognizer is None:
        return {}
    return {"asr": {"model": services.recognizer.model_name, "languages": list(services.language_tags)}}


async def ready(request: web.Request) -> web.Response:
    """Readiness, for a load balancer or a Kubernetes readinessProbe: 503 from the moment the node drains (SIGTERM,
    POST /v1/drain) or is unhealthy, so no new work is sent to it. /v1/health stays the liveness check."""
    services = request.app[SERVICES]
    if services.draining:
        return web.json_response({"status": "draining", "inProgress": services.in_progress()}, status=503)
    problems = health_problems(services)
    if problems:
        return web.json_response({"status": "unhealthy", "problems": problems}, status=503)
    return web.json_response({"status": "ready"})


async def drain(request: web.Request) -> web.Response:
    """POST /v1/drain (scope `operations`): refuse new work from now on, as SIGTERM does, and keep serving the
    calls in progress; the process stays up until it is stopped. Answers 202 with what is still in progress."""
    services = request.app[SERVICES]
    await request.app[AUTH].authenticate(request, "operations")
    services.begin_drain()
    return web.json_response({"status": "draining", "inProgress": services.in_progress()}, status=202)


def health_problems(services: Services) -> list[str]:
    problems = []
    remote = services.remote_asr
    if services.config.asr.enabled and (services.pool is None or (services.recognizer is None and remote is None)):
        problems.append("ASR model is not loaded")
    if remote is not None and not remote.healthy:
        problems.append(f"ASR queue unreachable (Redis at {remote.where})")
    problems += services.shared.problems()
    if services.cluster is not None and not services.cluster_healthy:
        problems.append(f"call registry unreachable (Redis at {where(services.config.cluster.redis_url)})")
    if not os.access(services.config.data_dir, os.W_OK):
        problems.append("data directory is not writable")
    if services.shutting_down:
        problems.append("shutting down")
    return problems


async def metrics(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    refresh_gauges(services)
    body = generate_latest(services.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def refresh_gauges(services: Services) -> None:
    """The gauges read as of now, before a scrape or the console's sample."""
    if services.pool is not None:
        services.metrics.asr_queue_depth.set(services.pool.queue_depth)
        services.metrics.asr_unfinished.set(services.pool.unfinished)
