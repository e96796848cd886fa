"""WHIP's HTTP side (RFC 9725): the endpoint `POST /mg-webrtc/v1/whip/{guid}`, its session resources (DELETE,
trickle PATCH), CORS for pages, and the bearer token an app gets with its credentials."""

from __future__ import annotations

import hmac
import logging
import secrets
import uuid
from collections import OrderedDict
from importlib import resources

from aiohttp import web
from aiortc.sdp import candidate_from_sdp

from mediagw.api.bodies import json_body
from mediagw.api.errors import ApiError
from mediagw.api.routes import AUTH
from mediagw.core.record import CallRecord
from mediagw.core.watch import Transcribed
from mediagw.ingress.webrtc.offer import SdpRefused, parse_offer, parse_trickle
from mediagw.ingress.webrtc.params import DEFAULT_PARAMS, NAMESPACE, valid_guid
from mediagw.ingress.webrtc.session import WhipSession
from mediagw.services import Services
from mediagw.tokens import WEBRTC, InvalidToken

log = logging.getLogger(__name__)
PREFIX = "/mg-webrtc/v1"
ENDPOINT = PREFIX + "/whip/{guid}"
RESOURCE = ENDPOINT + "/{resource}"
SDP = "application/sdp"
TRICKLE = "application/trickle-ice-sdpfrag"
BAD_GUID = "guid must be 1 to 128 letters, digits and ._:- (starting with a letter or digit)"
ENDED_KEPT = 1000  # ended sessions remembered, so a late DELETE or PATCH learns why its session ended
RETRY_AFTER_S = "5"  # seconds a client waits before publishing again when the node is full (503)


class WhipSessions:
    """This node's WHIP sessions, by resource id and by guid, at most `webrtc.max_sessions` at a time; a watcher
    of the node's calls (core/watch.py) that hands each WebRTC call's transcripts to its session."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._by_id: dict[str, WhipSession] = {}
        self._by_guid: dict[str, WhipSession] = {}
        self._ended: OrderedDict[str, str] = OrderedDict()  # resource id -> why it ended

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, resource_id: str) -> WhipSession | None:
        return self._by_id.get(resource_id)

    def ended(self, resource_id: str) -> str | None:
        return self._ended.get(resource_id)

    def admit(self, guid: str) -> None:
        """ApiError for a guid with media already, or when the node is full."""
        media = self.services.media.get(NAMESPACE, guid)
        if guid in self._by_guid or (media is not None and media.sources > 0):
            raise ApiError(409, "409-61", f"call {guid} already has WebRTC media: DELETE its session first")
        limit = self.services.config.webrtc.max_sessions
        if len(self._by_id) >= limit:
            message = f"WebRTC session limit reached ({limit}): try again later"
            raise ApiError(503, "503-61", message, {"Retry-After": RETRY_AFTER_S})

    def changed(self, namespace: str, guid: str) -> None:
        """Record and media changes: nothing for WHIP."""

    def recorded(self, record: CallRecord) -> None:
        """Records written: nothing for WHIP."""

    def transcribed(self, transcript: Transcribed) -> None:
        if transcript.namespace == NAMESPACE and (session := self._by_guid.get(transcript.guid)) is not None:
            session.transcribed(transcript)

    def add(self, session: WhipSession) -> None:
        self._by_id[session.resource_id] = self._by_guid[session.guid] = session
        self.services.sessions.add(session)
        self.services.metrics.open_streams.labels(NAMESPACE).inc()

    def remove(self, session: WhipSession, reason: str) -> None:
        if self._by_id.pop(session.resource_id, None) is None:
            return
        if self._by_guid.get(session.guid) is session:
            del self._by_guid[session.guid]
        self.services.sessions.discard(session)
        self.services.metrics.open_streams.labels(NAMESPACE).dec()
        self._ended[session.resource_id] = reason
        while len(self._ended) > ENDED_KEPT:
            self._ended.popitem(last=False)


SESSIONS: web.AppKey[WhipSessions] = web.AppKey("whip_sessions", WhipSessions)


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "401-61", "a bearer token is required (POST /mg-webrtc/v1/whip-url issues one)")
    return token.strip()


def _error(refused: SdpRefused) -> ApiError:
    return ApiError(refused.status, f"{refused.status}-60", str(refused))


async def _sdp_body(request: web.Request, content_type: str) -> str:
    if request.content_type != content_type:
        raise ApiError(415, "415-61", f"Content-Type must be {content_type}")
    limit = request.app[SESSIONS].services.config.webrtc.max_offer_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "413-61", f"SDP larger than webrtc.max_offer_bytes ({limit})")
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        raise ApiError(413, "413-61", f"SDP larger than webrtc.max_offer_bytes ({limit})")
    try:
        return body.decode()
    except UnicodeDecodeError:
        raise ApiError(400, "400-60", "malformed SDP: not UTF-8") from None


async def publish(request: web.Request) -> web.StreamResponse:
    """POST an SDP offer: 201 with the answer and the session's Location."""
    sessions = request.app[SESSIONS]
    services = sessions.services
    guid = request.match_info["guid"]
    token = _bearer(request)
    try:
        claims = services.signer.verify(token, audience=WEBRTC)
    except InvalidToken as error:
        raise ApiError(401, "401-62", f"bearer token refused: {error}") from None
    if claims.external_id and claims.external_id != guid:
        raise ApiError(401, "401-63", "bearer token was issued for another guid")
    if services.draining:
        raise ApiError(503, "503-01", "Service shutting down: publish to another node")
    if not valid_guid(guid):
        raise ApiError(400, "400-61", BAD_GUID)
    sdp = await _sdp_body(request, SDP)
    try:
        offer = parse_offer(sdp)
    except SdpRefused as refused:
        raise _error(refused) from None
    sessions.admit(guid)
    session = WhipSession(secrets.token_urlsafe(16), guid, token, offer, services.config.webrtc)
    sessions.add(session)  # counted from now on: a burst of offers cannot pass the limit while gathering
    try:
        answer = await session.negotiate(sdp)
        roles = DEFAULT_PARAMS.roles(session.track_count)
        media = await services.media.attach(NAMESPACE, guid, roles)
    except BaseException as error:
        session.close("offer not accepted")
        await session.wait_closed()
        sessions.remove(session, "offer not accepted")
        if isinstance(error, SdpRefused):
            raise _error(error) from None
        raise
    session.run(media, sessions.remove)
    location = f"{PREFIX}/whip/{guid}/{session.resource_id}"
    headers = {"Location": location, "Accept-Patch": TRICKLE, "Content-Type": SDP}
    return web.Response(status=201, text=answer, headers=headers, content_type=None)


def _resource(request: web.Request) -> WhipSession:
    sessions = request.app[SESSIONS]
    resource_id = request.match_info["resource"]
    session = sessions.get(resource_id)
    if session is None or session.guid != request.match_info["guid"]:
        reason = sessions.ended(resource_id)
        if reason is not None:
            raise ApiError(404, "404-62", f"WHIP session has ended: {reason}")
        raise ApiError(404, "404-61", "no such WHIP session")
    if not hmac.compare_digest(_bearer(request).encode(), session.token.encode()):
        raise ApiError(401, "401-64", "the bearer token does not match the one that created this session")
    return session


async def delete(request: web.Request) -> web.StreamResponse:
    """End the session: the utterance in progress is transcribed, the peer connection closed."""
    session = _resource(request)
    session.close("DELETE by the client")
    await session.wait_closed()
    return web.Response(status=200)


async def trickle(request: web.Request) -> web.StreamResponse:
    """Trickle ICE: the client's candidates are added to the running checks (204). aiortc cannot restart ICE:
    a fragment with new credentials is answered 422, as RFC 9725 asks of a resource doing trickle only."""
    session = _resource(request)
    fragment = await _sdp_body(request, TRICKLE)
    try:
        parsed = parse_trickle(fragment, session.offer.ice_ufrag)
    except SdpRefused as refused:
        raise _error(refused) from None
    mids = {section.mid: section.index for section in session.offer.audio}
    for mid, line in parsed.candidates:
        try:
            candidate = candidate_from_sdp(line.removeprefix("candidate:"))
        except (ValueError, IndexError):
            raise ApiError(400, "400-60", "malformed a=candidate line in the trickle fragment") from None
        candidate.sdpMid, candidate.sdpMLineIndex = mid, mids.get(mid)
        await session.add_candidate(candidate)
    if parsed.end_of_candidates:
        await session.add_candidate(None)
    return web.Response(status=204)


async def options(request: web.Request) -> web.StreamResponse:
    """Preflight and discovery: what the endpoint takes (the CORS headers are added on every WHIP answer)."""
    allow = "POST, OPTIONS" if "resource" not in request.match_info else "PATCH, DELETE, OPTIONS"
    headers = {"Allow": allow, "Access-Control-Allow-Methods": allow, "Accept-Post": SDP, "Accept-Patch": TRICKLE}
    headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, If-Match"
    headers["Access-Control-Max-Age"] = "600"
    return web.Response(status=204, headers=headers)


async def whip_url(request: web.Request) -> web.Response:
    """POST /mg-webrtc/v1/whip-url (app credentials, scope `streaming`), body {"guid"?}: the WHIP endpoint for the
    call and a bearer token for it, valid auth.token_ttl_s (a new guid when none is given)."""
    services = request.app[SESSIONS].services
    app_id = await request.app[AUTH].authenticate(request, "streaming")
    if services.draining:
        raise ApiError(503, "503-01", "Service shutting down: request a WHIP URL from another node")
    body = await json_body(request, empty="{}") if request.can_read_body else {}
    guid = body.get("guid", "") if isinstance(body, dict) else None
    if not isinstance(guid, str) or (guid and not valid_guid(guid)):
        raise ApiError(400, "400-61", BAD_GUID)
    guid = guid or str(uuid.uuid4())
    token = services.signer.issue(app_id, guid, audience=WEBRTC)
    url = f"{_http_base(request, services)}{PREFIX}/whip/{guid}"
    ttl = services.config.auth.token_ttl_s
    return web.json_response({"whipUrl": url, "token": token, "guid": guid, "expiresIn": ttl})


def _http_base(request: web.Request, services: Services) -> str:
    public = services.config.server.public_url.rstrip("/")
    if public:
        return public.replace("wss://", "https://", 1).replace("ws://", "http://", 1)
    return f"{request.scheme}://{request.host}"


async def _cors(request: web.Request, response: web.StreamResponse) -> None:
    """WHIP answers carry CORS headers for the origins `webrtc.cors_origins` allows (bearer tokens, no cookies)."""
    origin = request.headers.get("Origin")
    if origin is None or not request.path.startswith(PREFIX + "/"):
        return
    allowed = request.app[SESSIONS].services.config.webrtc.cors_origins
    if "*" in allowed or origin in allowed:
        response.headers["Access-Control-Allow-Origin"] = "*" if "*" in allowed else origin
        response.headers["Access-Control-Expose-Headers"] = "Location, Accept-Patch, Link, ETag"
        if "*" not in allowed:
            response.headers["Vary"] = "Origin"


async def demo_page(request: web.Request) -> web.StreamResponse:
    """The sample page (samples/webrtc/index.html links to it): token, microphone over WHIP, live transcripts."""
    page = resources.files("mediagw.ingress.webrtc").joinpath("demo", "index.html").read_text()
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'self' 'unsafe-inline'"}
    return web.Response(text=page, content_type="text/html", headers=headers)


def add_routes(app: web.Application, services: Services) -> WhipSessions:
    sessions = app[SESSIONS] = WhipSessions(services)
    if services.config.webrtc.data_channel:
        services.watchers.add(sessions)  # transcripts back on the sessions' data channels
    app.router.add_post(PREFIX + "/whip-url", whip_url)
    app.router.add_post(ENDPOINT, publish)
    app.router.add_route("OPTIONS", ENDPOINT, options)
    app.router.add_delete(RESOURCE, delete)
    app.router.add_patch(RESOURCE, trickle)
    app.router.add_route("OPTIONS", RESOURCE, options)
    app.on_response_prepare.append(_cors)
    if services.config.webrtc.demo_page:
        app.router.add_get("/mg-webrtc/demo/", demo_page)
    return sessions
