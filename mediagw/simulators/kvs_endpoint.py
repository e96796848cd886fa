"""A local Kinesis Video Streams endpoint: GetDataEndpoint and GetMedia over HTTP, serving MKV fragments.

Enough of the KVS API for boto3's `kinesisvideo.get_data_endpoint` and `kinesis-video-media.get_media` to run
against it unchanged (endpoint override): streams are registered by ARN as lists of MKV fragments (each a
Segment with its Tags, as Amazon Connect writes them), served from the requested start selector at real-time
pace or faster. Faults for tests: AccessDenied, ResourceNotFound, throttling, a connection dropped
mid-fragment, a body ended cleanly mid-fragment. It also answers STS AssumeRole (query protocol, at "/", for
`AWS_ENDPOINT_URL_STS`) with temporary credentials, and records which access key signed each GetMedia.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from aiohttp import web


@dataclass
class KvsFragment:
    number: str  # AWS_KINESISVIDEO_FRAGMENT_NUMBER, a decimal string that grows
    data: bytes  # the fragment's MKV bytes (EBML header + Segment with Tags, Tracks, Cluster)
    duration_s: float


@dataclass
class KvsStream:
    arn: str
    fragments: list[KvsFragment]
    live: bool = True  # NOW starts at the newest fragment; a finished recording is served from its start
    faults: list[str] = field(default_factory=list)  # one per GetMedia: "throttle", "drop", "truncate", "denied"


class KvsEndpoint:
    """aiohttp application standing in for the KVS control and data planes on one port."""

    def __init__(self, *, speed: float = 1.0, chunk_bytes: int = 8192) -> None:
        self.streams: dict[str, KvsStream] = {}
        self.speed = speed  # x real time; 0: as fast as the socket takes it
        self.chunk_bytes = chunk_bytes
        self.requests: list[dict[str, object]] = []  # GetMedia bodies received, for tests
        self.signed_by: list[str] = []  # the access key id that signed each GetMedia
        self.assumed: list[dict[str, str]] = []  # AssumeRole requests (RoleArn, ExternalId, ...)
        self.base_url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/getDataEndpoint", self._get_data_endpoint)
        app.router.add_post("/getMedia", self._get_media)
        app.router.add_post("/", self._sts)
        return app

    async def _sts(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        if form.get("Action") != "AssumeRole":
            return web.Response(status=400, text="only AssumeRole")
        self.assumed.append({k: str(v) for k, v in form.items()})
        expiry = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        credentials = {
            "AccessKeyId": f"ASIA{secrets.token_hex(8).upper()}",
            "SecretAccessKey": secrets.token_hex(20),
            "SessionToken": secrets.token_hex(32),
            "Expiration": expiry,
        }
        fields = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in credentials.items())
        body = (
            '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>'
            f"<Credentials>{fields}</Credentials><AssumedRoleUser><AssumedRoleId>AROA:mediagw</AssumedRoleId>"
            f"<Arn>{escape(str(form.get('RoleArn', '')))}</Arn></AssumedRoleUser></AssumeRoleResult>"
            "<ResponseMetadata><RequestId>local</RequestId></ResponseMetadata></AssumeRoleResponse>"
        )
        return web.Response(text=body, content_type="text/xml")

    async def _get_data_endpoint(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("StreamARN") not in self.streams:
            return _error(404, "ResourceNotFoundException", "The stream does not exist")
        return web.json_response({"DataEndpoint": self.base_url or f"http://{request.host}"})

    async def _get_media(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        signer = re.search(r"Credential=([^/]+)/", request.headers.get("Authorization", ""))
        self.signed_by.append(signer[1] if signer else "")
        stream = self.streams.get(body.get("StreamARN", ""))
        if stream is None:
            return _error(404, "ResourceNotFoundException", "The stream does not exist")
        fault = stream.faults.pop(0) if stream.faults else None
        if fault == "denied":
            return _error(403, "AccessDeniedException", "Not authorized to perform GetMedia")
        if fault == "throttle":
            return _error(400, "ConnectionLimitExceededException", "Too many connections")
        start = _start_index(stream, body.get("StartSelector", {}))
        response = web.StreamResponse(headers={"Content-Type": "video/webm"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):  # the reader went away (stop-streaming): nothing more to send
            await self._stream(request, response, stream.fragments[start:], fault)
        return response

    async def _stream(
        self, request: web.Request, response: web.StreamResponse, fragments: list[KvsFragment], fault: str | None
    ) -> None:
        for index, fragment in enumerate(fragments):
            for offset in range(0, len(fragment.data), self.chunk_bytes):
                half = len(fragment.data) // 2
                if fault in ("drop", "truncate") and index == 1 and offset + self.chunk_bytes > half:
                    if fault == "truncate":  # a clean end of the body, one byte into the fragment's second half
                        await response.write(fragment.data[offset : half + 1])
                        await response.write_eof()
                        return
                    assert request.transport is not None
                    request.transport.close()  # mid-fragment, as a broken connection does
                    return
                await response.write(fragment.data[offset : offset + self.chunk_bytes])
            if self.speed:
                await asyncio.sleep(fragment.duration_s / self.speed)
        await response.write_eof()


def _start_index(stream: KvsStream, selector: dict[str, str]) -> int:
    kind = selector.get("StartSelectorType", "NOW")
    if kind == "FRAGMENT_NUMBER":
        after = int(selector.get("AfterFragmentNumber", "0"))
        return next((i for i, f in enumerate(stream.fragments) if int(f.number) > after), len(stream.fragments))
    if kind == "NOW" and stream.live:
        return 0  # a live stream's "now" is where this simulated call is: its next fragment
    return 0


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps({"message": message}),
        headers={"x-amzn-ErrorType": kind, "Content-Type": "application/json"},
    )
