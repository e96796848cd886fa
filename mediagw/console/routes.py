"""The console's routes under /console/: its page, login, the live feed (server-sent events), the health
history, and start/stop through the control API's own parsing and answers."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from mediagw.api import control
from mediagw.api.bodies import json_body
from mediagw.api.errors import ApiError
from mediagw.api.forward import forwarded
from mediagw.api.routes import AUTH, SERVICES, refresh_gauges
from mediagw.console.feed import CallFeed, Subscription, sse
from mediagw.console.history import MetricsHistory
from mediagw.console.sessions import COOKIE, CSRF_HEADER, ConsoleSession, Sessions
from mediagw.services import Services

if TYPE_CHECKING:
    from mediagw.console.relay import ConsoleRelay

log = logging.getLogger(__name__)
PREFIX = "/console"
STATIC = Path(str(resources.files("mediagw.console").joinpath("static")))
KEEPALIVE_S = 15.0
VIEWING = frozenset({"control", "messages", "operations"})  # an app with none of these has no console
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass
class Console:
    sessions: Sessions
    feed: CallFeed
    history: MetricsHistory
    relay: ConsoleRelay | None = None  # cluster.redis_url


CONSOLE: web.AppKey[Console] = web.AppKey("console", Console)


def add_routes(app: web.Application, services: Services) -> None:
    config = services.config
    feed = CallFeed(services.registry, services.media, services.media.node_id)
    history = MetricsHistory(
        services.metrics.registry, config.console.sample_interval_s, lambda: refresh_gauges(services)
    )
    app[CONSOLE] = Console(Sessions(config.auth.token_secret, config.console.session_ttl_s), feed, history)
    services.watchers.add(feed)
    router = app.router
    router.add_get(PREFIX, _to_index)
    router.add_get(f"{PREFIX}/", _index)
    router.add_get(f"{PREFIX}/static/{{name}}", _static)
    router.add_post(f"{PREFIX}/api/login", _login)
    router.add_post(f"{PREFIX}/api/logout", _logout)
    router.add_get(f"{PREFIX}/api/session", _session_info)
    router.add_get(f"{PREFIX}/api/events", _events)
    router.add_get(f"{PREFIX}/api/health", _health)
    router.add_post(f"{PREFIX}/api/calls/{{namespace}}/{{guid}}/start", _start)
    router.add_post(f"{PREFIX}/api/calls/{{namespace}}/{{guid}}/stop", _stop)
    app.on_response_prepare.append(_secure_headers)
    app.on_startup.append(_start_sampling)
    if config.cluster.redis_url:
        app.on_startup.append(_start_relay)
    app.on_shutdown.append(_close_feed)


async def _secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path == PREFIX or request.path.startswith(f"{PREFIX}/"):
        response.headers.update(HEADERS)
        if request.path.startswith(f"{PREFIX}/api/"):
            response.headers["Cache-Control"] = "no-store"


async def _start_sampling(app: web.Application) -> None:
    services, history = app[SERVICES], app[CONSOLE].history

    async def sample_forever() -> None:
        while True:
            try:
                history.sample(time.time())
            except Exception:
                log.exception("console: metrics sample failed")
            await asyncio.sleep(history.interval_s)

    services.tasks.keep(sample_forever(), name="console-sampler")


async def _start_relay(app: web.Application) -> None:
    """Every node's calls here too: the other nodes' changes through Redis (console/relay.py)."""
    from mediagw.backends.redis_link import client
    from mediagw.console.relay import ConsoleRelay

    services, console = app[SERVICES], app[CONSOLE]
    redis = client(services.config.cluster.redis_url)
    console.relay = ConsoleRelay(redis, console.feed)
    services.tasks.keep(console.relay.run(), name="console-relay")


async def _close_feed(app: web.Application) -> None:
    services, console = app[SERVICES], app[CONSOLE]
    services.tasks.stop("console-sampler")
    services.tasks.stop("console-relay")
    console.feed.close()
    if console.relay is not None:
        await console.relay.close()


async def _to_index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(f"{PREFIX}/")


async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html")


FILES = {path.name: path for path in STATIC.iterdir() if path.is_file()}  # the page's own files, nothing else
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html"}


async def _static(request: web.Request) -> web.StreamResponse:
    path = FILES.get(request.match_info["name"])
    if path is None:
        raise ApiError(404, "404-01", "Not found")
    return web.FileResponse(path, headers={"Content-Type": TYPES.get(path.suffix, "application/octet-stream")})


# access


def _same_origin(request: web.Request) -> None:
    """A browser names the page that sent a change: only ours may (Origin, where sent)."""
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        raise ApiError(403, "403-01", "Cross-origin console request refused")


def _session(request: web.Request, scope: str | None = None) -> tuple[ConsoleSession, frozenset[str]]:
    """The logged-in app and its scopes now; 401-01 without a live session, 403-02 outside `scope`."""
    console = request.app[CONSOLE]
    session = console.sessions.read(request.cookies.get(COOKIE, ""))
    if session is None:
        raise ApiError(401, "401-01", "Log in to the console")
    scopes = request.app[AUTH].scopes(session.app_id)
    if not scopes & VIEWING:
        raise ApiError(403, "403-02", "This app is not allowed to use the console")
    if scope is not None and scope not in scopes:
        raise ApiError(403, "403-02", f"This app is not allowed to use this API (scope {scope})")
    return session, scopes


async def _changing(request: web.Request, scope: str) -> ConsoleSession:
    """A change (start, stop): a live session, same origin, and its CSRF token. A start or stop another node
    forwarded here (signed: api/forward.py) came from that node's page: its Origin names that node."""
    if not await forwarded(request, request.app[SERVICES].config.auth.token_secret):
        _same_origin(request)
    session, _ = _session(request, scope)
    if not request.app[CONSOLE].sessions.csrf_ok(session, request.headers.get(CSRF_HEADER, "")):
        raise ApiError(403, "403-03", "Missing or wrong CSRF token: reload the console")
    return session


def _set_cookie(request: web.Request, response: web.StreamResponse, value: str, max_age: float) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=int(max_age),
        path=f"{PREFIX}/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )


def _renew(request: web.Request, response: web.StreamResponse, session: ConsoleSession) -> None:
    sessions = request.app[CONSOLE].sessions
    if sessions.needs_renewal(session):
        _, cookie = sessions.issue(session.app_id, session_id=session.session_id)
        _set_cookie(request, response, cookie, sessions.ttl_s)


def _session_json(request: web.Request, session: ConsoleSession, scopes: frozenset[str]) -> dict[str, Any]:
    sessions = request.app[CONSOLE].sessions
    return {
        "loggedIn": True,
        "appId": session.app_id,
        "scopes": sorted(scopes),
        "csrfToken": sessions.csrf(session),
        "expiresAt": session.expires_at,
        "node": request.app[SERVICES].media.node_id,
    }


async def _login(request: web.Request) -> web.Response:
    _same_origin(request)
    if request.content_type != "application/json":  # a cross-site form cannot send JSON without a preflight
        raise ApiError(415, "415-01", "Log in with a JSON body")
    body = await json_body(request, "400-01")
    if not isinstance(body, dict):
        raise ApiError(400, "400-01", "request body must be a JSON object")
    app_id, secret = body.get("appId"), body.get("secret")
    if not isinstance(app_id, str) or not isinstance(secret, str) or len(app_id) > 256 or len(secret) > 1024:
        raise ApiError(400, "400-01", "appId and secret are required")
    auth = request.app[AUTH]
    scopes = auth.verify(request.remote or "", app_id, secret)
    if not scopes & VIEWING:
        raise ApiError(403, "403-02", "This app is not allowed to use the console")
    await auth.arrest(app_id)
    sessions = request.app[CONSOLE].sessions
    session, cookie = sessions.issue(app_id)
    log.info("console login", extra={"app_id": app_id})
    response = web.json_response(_session_json(request, session, scopes))
    _set_cookie(request, response, cookie, sessions.ttl_s)
    return response


async def _logout(request: web.Request) -> web.Response:
    session, _ = _session(request)
    _same_origin(request)
    request.app[CONSOLE].sessions.revoke(session)
    response = web.json_response({"loggedOut": True})
    response.del_cookie(COOKIE, path=f"{PREFIX}/")
    return response


async def _session_info(request: web.Request) -> web.Response:
    """The session, or `loggedIn: false` (not a 401: the page asks this before it knows)."""
    if request.app[CONSOLE].sessions.read(request.cookies.get(COOKIE, "")) is None:
        return web.json_response({"loggedIn": False})
    session, scopes = _session(request)
    response = web.json_response(_session_json(request, session, scopes))
    _renew(request, response, session)
    return response


# start and stop: the control API's parsing, lifecycle and answers (forwarded to the media's node if need be)


async def _start(request: web.Request) -> web.Response:
    await _changing(request, "control")
    services = request.app[SERVICES]
    body = await _call_body(request)
    start = control.parse_start(body, services.languages, services.config.redaction.always_redact, services.namespaces)
    return await control.decide(request, services, services.calls.start(start))


async def _stop(request: web.Request) -> web.Response:
    await _changing(request, "control")
    services = request.app[SERVICES]
    namespace, guid = control.parse_call(await _call_body(request), services.namespaces)
    return await control.decide(request, services, services.calls.stop(namespace, guid), services.calls.stop_unheld)


async def _call_body(request: web.Request) -> dict[str, Any]:
    """The call named by the path, with the body's fields (customerId, agentId, autotranscribeParams...)."""
    body = await json_body(request, "400-201", empty="{}")  # read already, perhaps (a forwarded one's signature)
    if not isinstance(body, dict):
        raise ApiError(400, "400-201", "request body must be a JSON object")
    return {**body, "namespace": request.match_info["namespace"], "guid": request.match_info["guid"]}


# the live feed and the health history


async def _events(request: web.Request) -> web.StreamResponse:
    session, scopes = _session(request)
    key = request.query.get("call") or None
    if key is not None and (len(key) > 300 or "/" not in key):
        raise ApiError(400, "400-01", "call must be namespace/guid")
    feed = request.app[CONSOLE].feed
    transcripts = "messages" in scopes
    subscription = feed.subscribe(key, transcripts)  # before the snapshot: nothing between them is missed
    try:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"})
        _renew(request, response, session)
        await response.prepare(request)
        await response.write(sse("snapshot", {"calls": await feed.snapshot(key), "transcripts": transcripts}))
        if key is not None and transcripts:
            await response.write(sse("history", {"key": key, "transcripts": await _stored(request, key)}))
        await _stream(request, response, subscription, session)
        return response
    finally:
        feed.unsubscribe(subscription)


async def _stream(
    request: web.Request, response: web.StreamResponse, subscription: Subscription, session: ConsoleSession
) -> None:
    """Queued events as they come (what queued meanwhile in one write), a keep-alive when idle; the stream ends
    with the session (the page logs in again) or the gateway."""
    sessions = request.app[CONSOLE].sessions
    queue = subscription.queue
    while True:
        try:
            item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
        except TimeoutError:
            if sessions.read(request.cookies.get(COOKIE, "")) is None or time.time() > session.expires_at:
                await response.write(sse("expired", {}))
                return
            await response.write(b": keep-alive\n\n")
            continue
        chunks = [item]
        while not queue.empty() and chunks[-1] is not None:
            chunks.append(queue.get_nowait())
        await response.write(b"".join(chunk for chunk in chunks if chunk is not None))
        if chunks[-1] is None or subscription.lost:
            return


async def _stored(request: web.Request, key: str) -> list[dict[str, Any]]:
    """The call's transcripts stored so far, as they were stored (redacted as the stream asked)."""
    store = request.app[SERVICES].store
    if store is None:
        return []
    namespace, _, guid = key.partition("/")
    return [
        {
            "key": key,
            "role": u.role,
            "streamId": u.stream_id,
            "start": u.start_ms,
            "end": u.end_ms,
            "text": u.text,
            "stages": None,
            "at": u.created_at,
        }
        for u in await store.messages(namespace, guid, 1000)
    ]


async def _health(request: web.Request) -> web.Response:
    session, _ = _session(request, "operations")
    response = web.json_response(request.app[CONSOLE].history.to_json())
    _renew(request, response, session)
    return response
