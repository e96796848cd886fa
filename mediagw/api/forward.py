"""A start or stop for a call whose media another node holds goes to that node over HTTP, and its answer comes
back unchanged (status and body, summary included).

Why node-to-node HTTP and not Redis request/reply: the owner runs the very route a client would have called, with
the client's own credentials (its headers travel along), so nothing of the API is implemented twice;
the owner's answer is relayed byte for byte; and a forwarded request costs one loopback-or-LAN round trip, not a
publish, a subscription and a second Redis hop each way. Redis only says where the owner is (its heartbeat key,
cluster.advertise_url). The hop is signed (`X-Mediagw-Forwarded`: time and an HMAC-SHA256 with auth.token_secret of
time, path and body), so only a node of the cluster can mark a request as forwarded, and a forwarded request is
never forwarded again (no loops while ownership moves).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time

import aiohttp
from aiohttp import web

from mediagw.api.errors import ApiError
from mediagw.backends.redis_registry import NodeInfo, RedisCallRegistry
from mediagw.core.record import CallRecord
from mediagw.services import Services

log = logging.getLogger(__name__)
HEADER = "X-Mediagw-Forwarded"
MAX_SKEW_S = 30.0
TIMEOUT_S = 120.0  # a stop waits for its streams to flush: every pending utterance decoded
HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive", HEADER.lower()}
NO_CALL = ApiError(400, "400-203", "No call with specified guid found")


class NoLiveOwner(Exception):
    """No live node holds the call's media (its node died): nowhere to forward to."""


def signature(secret: str, stamp: str, path: str, body: bytes) -> str:
    message = b"\n".join((stamp.encode(), path.encode(), hashlib.sha256(body).hexdigest().encode()))
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


async def forwarded(request: web.Request, secret: str) -> bool:
    """Whether `request` came from another node (a valid signature); a bad one is refused (401)."""
    value = request.headers.get(HEADER)
    if value is None:
        return False
    stamp, _, signed = value.partition(":")
    try:
        fresh = abs(time.time() - float(stamp)) <= MAX_SKEW_S
    except ValueError:
        fresh = False
    expected = signature(secret, stamp, request.path, await request.read()) if secret else ""
    if not (fresh and secret and hmac.compare_digest(signed, expected)):
        log.warning("forwarded request with a bad or stale signature refused")
        raise ApiError(401, "401-01", "Unauthorized")
    return True


async def forward(request: web.Request, services: Services, record: CallRecord) -> web.Response:
    """Relay `request` to the live node holding `record`'s media; NoLiveOwner when none is alive (it died: the
    call waits for its media to come back, on any node, until its deadline)."""
    cluster = services.cluster
    if cluster is None or await forwarded(request, services.config.auth.token_secret):
        raise NO_CALL
    node = await _owner(cluster, record)
    if node is None:
        raise NoLiveOwner
    body = await request.read()
    stamp = f"{time.time():.3f}"
    headers = {name: value for name, value in request.headers.items() if name.lower() not in HOP_BY_HOP}
    headers[HEADER] = f"{stamp}:{signature(services.config.auth.token_secret, stamp, request.path, body)}"
    url = node.control_url.rstrip("/") + request.path
    try:
        async with _session(services).post(url, data=body, headers=headers) as answer:
            payload = await answer.read()
            kind = answer.headers.get("Content-Type", "application/json")
            log.info("forwarded to node %s: %d", node.node_id, answer.status, extra={"call_id": record.guid})
            return web.Response(status=answer.status, body=payload, headers={"Content-Type": kind})
    except (aiohttp.ClientError, TimeoutError) as error:
        log.error("forwarding to node %s failed (%s)", node.node_id, type(error).__name__)
        raise ApiError(500, "500-201", "MG AutoTranscribe or AutoTranscribe internal error") from None


STOP_SHARE = "/mg-internal/v1/stop-share"


async def stop_shares(services: Services, record: CallRecord) -> None:
    """A stop answered here for a call whose other roles' media is on other nodes: each of those ends its share
    and writes its counts into the record (signed, as a forwarded request), so the summary counts every stream.
    A node that does not answer leaves the counts it last wrote (every 10 s of audio, at detach)."""
    cluster = services.cluster
    if cluster is None:
        return
    body = json.dumps({"namespace": record.namespace, "guid": record.guid}).encode()
    owners = {o for o in record.media_nodes.values() if o != cluster.node.owner}
    await asyncio.gather(*(_stop_share(services, cluster, owner, body, record.guid) for owner in owners))


async def _stop_share(services: Services, cluster: RedisCallRegistry, owner: str, body: bytes, guid: str) -> None:
    node = await cluster.live_node(owner)
    if node is None:  # gone: the counts it wrote last stand
        log.info("node %s is gone: its share's counts as it last wrote them", owner, extra={"call_id": guid})
        return
    stamp = f"{time.time():.3f}"
    headers = {HEADER: f"{stamp}:{signature(services.config.auth.token_secret, stamp, STOP_SHARE, body)}"}
    headers["Content-Type"] = "application/json"
    try:
        async with _session(services).post(node.control_url.rstrip("/") + STOP_SHARE, data=body, headers=headers) as r:
            await r.read()
            if r.status != 200:
                log.error("node %s did not stop its share: %d", node.node_id, r.status, extra={"call_id": guid})
    except (aiohttp.ClientError, TimeoutError) as error:
        log.error("node %s did not stop its share (%s)", node.node_id, type(error).__name__, extra={"call_id": guid})


async def stop_share(request: web.Request, services: Services) -> web.Response:
    """Another node's stop: this node's share of the call ends and its counts go into the record."""
    if not await forwarded(request, services.config.auth.token_secret):
        raise ApiError(401, "401-01", "Unauthorized")
    try:
        body = json.loads(await request.read())
        namespace, guid = str(body["namespace"]), str(body["guid"])
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "400-201", "namespace and guid are required") from None
    ended = await services.calls.end_share(namespace, guid)
    return web.json_response({"ended": ended})


def _session(services: Services) -> aiohttp.ClientSession:
    if services.forwarding is None:
        services.forwarding = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))
    return services.forwarding


async def _owner(cluster: RedisCallRegistry, record: CallRecord) -> NodeInfo | None:
    for owner in dict.fromkeys(record.media_nodes.values()):
        node = await cluster.live_node(owner)
        if node is not None and node.owner != cluster.node.owner:
            return node
    return None
