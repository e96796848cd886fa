"""Webhook publisher: POSTs each stored transcript message to every configured target.

Per target, each stream's messages go out in order, one at a time; streams and targets never wait on each
other. A target's backlog is bounded: past it the oldest messages not yet sent are dropped first, counted and
recorded, as the reference describes; a message once POSTed is never counted as dropped. Retries (exponential
backoff on 5xx, 429 and timeouts) are optional. Each message's outcome is kept by the delivery journal.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

from mediagw.outputs.deliveries import DeliveryJournal
from mediagw.outputs.store import DeliveryRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookAuth:
    kind: str = "none"  # none, secret or oauth2
    secret_name: str = "X-Webhook-Secret"
    secret_value: str = ""
    secret_in: str = "header"  # header or query
    token_url: str = ""  # oauth2 client_credentials
    client_id: str = ""
    client_secret: str = ""
    scope: str = ""


@dataclass(frozen=True)
class WebhookTarget:
    name: str
    url: str
    auth: WebhookAuth = field(default_factory=WebhookAuth)
    timeout_s: float = 2.0
    max_backlog: int = 1000  # messages not yet sent; past this the oldest of them are dropped
    concurrency: int = 64  # streams posting at once
    retry: bool = False
    max_attempts: int = 3
    backoff_s: float = 0.2
    ca_bundle: str = ""  # PEM file of CAs to trust instead of the system's
    client_cert: str = ""  # PEM certificate (and key, or client_key) for mutual TLS
    client_key: str = ""

    def validate(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"webhook target {self.name!r}: url must be http(s)")
        if self.auth.kind not in ("none", "secret", "oauth2"):
            raise ValueError(f"webhook target {self.name!r}: auth.kind must be none, secret or oauth2")
        if self.auth.kind == "oauth2" and not self.auth.token_url:
            raise ValueError(f"webhook target {self.name!r}: oauth2 needs auth.token_url")
        if self.auth.secret_in not in ("header", "query"):
            raise ValueError(f"webhook target {self.name!r}: auth.secret_in must be header or query")


RecordFailure = Callable[
    [str, str, str, int, str], Coroutine[Any, Any, None]
]  # utterance id, target, outcome, attempts, detail


@dataclass
class _Pending:
    utterance_id: str
    stream_id: str
    body: bytes
    queued_at: float
    in_flight: bool = False  # its POST has begun: never dropped, whatever the backlog
    done: bool = False  # sent, failed or dropped


class TargetPublisher:
    """Delivery to one target."""

    def __init__(
        self,
        target: WebhookTarget,
        record_failure: RecordFailure,
        on_sent: Callable[[float], None],
        journal: DeliveryJournal | None = None,
    ) -> None:
        target.validate()
        self.target = target
        self._record_failure = record_failure
        self._on_sent = on_sent
        self._journal = journal
        self._session: aiohttp.ClientSession | None = None
        self._oauth = _OAuthToken(target.auth) if target.auth.kind == "oauth2" else None
        self._streams: dict[str, deque[_Pending]] = {}
        self._order: deque[_Pending] = deque()  # every message not yet sent, oldest first, for dropping
        self._unsent = 0
        self._in_flight: dict[int, _Pending] = {}  # by id(): POSTs begun and not finished
        self._senders: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(target.concurrency)
        self.sent = self.failed = self.dropped = 0

    @property
    def backlog(self) -> int:
        """Messages not finished: waiting to be sent, or in flight."""
        return self._unsent + len(self._in_flight)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def publish(self, utterance_id: str, stream_id: str, body: bytes) -> None:
        while self._order and (self._order[0].done or self._order[0].in_flight):
            self._order.popleft()  # sent or finished: only messages not yet sent stay, for dropping
        item = _Pending(utterance_id, stream_id, body, time.monotonic())
        self._streams.setdefault(stream_id, deque()).append(item)
        self._order.append(item)
        self._unsent += 1
        while self._unsent > self.target.max_backlog:
            self._drop_oldest()
        if stream_id not in self._senders:
            self._senders[stream_id] = asyncio.create_task(self._send_stream(stream_id), name=f"webhook-{stream_id}")

    async def close(self) -> None:
        """Stop sending; what was in flight is recorded as of unknown outcome, what was waiting as not sent."""
        for task in list(self._senders.values()):
            task.cancel()
        await asyncio.gather(*self._senders.values(), return_exceptions=True)
        for item in list(self._in_flight.values()):
            self._finish(item, "unknown", 1, "in flight when the gateway stopped: outcome unknown")
        for item in self._order:
            self._finish(item, "not_sent", 0, "the gateway stopped before sending it")
        if self._journal is not None:
            await self._journal.flush()
        if self._session is not None:
            await self._session.close()

    def _drop_oldest(self) -> None:
        while self._order:
            item = self._order.popleft()
            if not item.done and not item.in_flight:
                self.dropped += 1
                self._finish(item, "dropped", 0, f"backlog over {self.target.max_backlog}, never sent")
                return

    async def _send_stream(self, stream_id: str) -> None:
        queue = self._streams[stream_id]
        try:
            while queue:
                item = queue.popleft()
                if item.done:
                    continue
                async with self._slots:
                    if item.done:
                        continue  # dropped while it waited for a slot
                    try:
                        await self._take_off(item)
                        await self._deliver(item)
                    except Exception as error:  # a fault here must not end the sender and strand the stream
                        log.exception("webhook %s: delivery failed unexpectedly", self.target.name)
                        self._finish(item, "error", 1, f"internal error ({type(error).__name__})")
        finally:  # no await between the empty queue and here, so nothing published can be stranded
            self._senders.pop(stream_id, None)
            if not queue:
                self._streams.pop(stream_id, None)

    async def _take_off(self, item: _Pending) -> None:
        """From now on the message is in flight: never dropped, and recorded so before its POST starts."""
        item.in_flight = True
        self._unsent -= 1
        self._in_flight[id(item)] = item
        if self._journal is not None:
            await self._journal.commit(DeliveryRecord(item.utterance_id, self.target.name, "in_flight"))

    async def _deliver(self, item: _Pending) -> None:
        attempts, outcome, detail = 0, "failed", ""
        while not item.done:
            attempts += 1
            outcome, detail, retriable = await self._post(item)
            if outcome == "sent" or not (self.target.retry and retriable and attempts < self.target.max_attempts):
                break
            await asyncio.sleep(self.target.backoff_s * 2 ** (attempts - 1))
        self._finish(item, outcome, attempts, detail)

    def _finish(self, item: _Pending, outcome: str, attempts: int, detail: str) -> None:
        if item.done:
            return
        item.done = True
        if item.in_flight:
            del self._in_flight[id(item)]
        else:
            self._unsent -= 1
        if self._journal is not None:
            delivered = "delivered" if outcome == "sent" else outcome
            self._journal.record(DeliveryRecord(item.utterance_id, self.target.name, delivered, attempts, detail))
        if outcome == "sent":
            self.sent += 1
            self._on_sent(time.monotonic() - item.queued_at)
        elif outcome in ("unknown", "not_sent"):
            log.warning("webhook %s: %s", self.target.name, detail)
        else:
            if outcome != "dropped":
                self.failed += 1
                log.warning("webhook %s: message not delivered (%s)", self.target.name, detail[:200])
            self._fire_record(item, outcome, attempts, detail)

    async def _post(self, item: _Pending) -> tuple[str, str, bool]:
        """One POST: (outcome, detail, worth retrying)."""
        session = self._session or self._open_session()
        try:
            url, headers = await self._request_parts()
            async with session.post(url, data=item.body, headers=headers) as response:
                if response.status == 401 and self._oauth is not None:
                    self._oauth.invalidate()
                    url, headers = await self._request_parts()
                    async with session.post(url, data=item.body, headers=headers) as again:
                        return _outcome(again.status)
                return _outcome(response.status)
        except TokenError as error:
            return "token", str(error), error.retriable
        except TimeoutError:
            return "timeout", f"no answer within {self.target.timeout_s} s", True
        except (aiohttp.ClientError, OSError) as error:
            return "error", f"{type(error).__name__}: {error}", True

    async def _request_parts(self) -> tuple[str, dict[str, str]]:
        headers = {"Content-Type": "application/json"}
        url = self.target.url
        auth = self.target.auth
        if auth.kind == "secret":
            if auth.secret_in == "header":
                headers[auth.secret_name] = auth.secret_value
            else:
                url += ("&" if "?" in url else "?") + urlencode({auth.secret_name: auth.secret_value})
        elif self._oauth is not None:
            headers["Authorization"] = f"Bearer {await self._oauth.token(self._session or self._open_session())}"
        return url, headers

    def _open_session(self) -> aiohttp.ClientSession:
        timeout = aiohttp.ClientTimeout(total=self.target.timeout_s)
        connector = aiohttp.TCPConnector(limit=self.target.concurrency, ssl=tls_context(self.target) or True)
        self._session = aiohttp.ClientSession(timeout=timeout, connector=connector)
        return self._session

    def _fire_record(self, item: _Pending, outcome: str, attempts: int, detail: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(
            self._record_failure(item.utterance_id, self.target.name, outcome, attempts, detail)
        )
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # logged by the store if it fails


def _outcome(status: int) -> tuple[str, str, bool]:
    if 200 <= status < 300:
        return "sent", "", False
    return "failed", f"HTTP {status}", status >= 500 or status == 429


def tls_context(target: WebhookTarget) -> ssl.SSLContext | None:
    if not target.url.startswith("https://"):
        return None
    context = ssl.create_default_context(cafile=target.ca_bundle or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if target.client_cert:
        context.load_cert_chain(target.client_cert, target.client_key or None)
    return context


class TokenError(Exception):
    """The OAuth2 token endpoint failed: the message is not delivered (outcome "token"), retried like a POST."""

    def __init__(self, detail: str, retriable: bool) -> None:
        super().__init__(detail)
        self.retriable = retriable


class _OAuthToken:
    """client_credentials token, cached and refreshed a minute before it expires, or after a 401."""

    def __init__(self, auth: WebhookAuth) -> None:
        self._auth = auth
        self._token = ""
        self._expires = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._expires = 0.0

    async def token(self, session: aiohttp.ClientSession) -> str:
        """The cached token, or a new one; TokenError when the endpoint fails or answers something unusable."""
        async with self._lock:
            if time.monotonic() < self._expires - 60:
                return self._token
            try:
                token, lifetime = await self._fetch(session)
            except TokenError:
                raise
            except TimeoutError as error:
                raise TokenError("token endpoint: no answer in time", True) from error
            except (aiohttp.ClientError, OSError) as error:
                raise TokenError(f"token endpoint: {type(error).__name__}: {error}", True) from error
            except (ValueError, KeyError, TypeError) as error:  # bad JSON, no access_token: the body is not logged
                raise TokenError(f"token endpoint: unusable answer ({type(error).__name__})", True) from error
            self._token, self._expires = token, time.monotonic() + lifetime
            return token

    async def _fetch(self, session: aiohttp.ClientSession) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._auth.client_id,
            "client_secret": self._auth.client_secret,
        }
        if self._auth.scope:
            form["scope"] = self._auth.scope
        async with session.post(self._auth.token_url, data=form) as response:
            if response.status >= 400:
                status = response.status
                raise TokenError(f"token endpoint: HTTP {status}", status >= 500 or status == 429)
            body = await response.json(content_type=None)
        if not isinstance(body, dict):
            raise ValueError("token answer is not a JSON object")
        token = body["access_token"]
        if not isinstance(token, str) or not token:
            raise ValueError("access_token is not a non-empty string")
        return token, float(body.get("expires_in", 3600))


class WebhookPublisher:
    """All targets; `publish` never waits."""

    def __init__(
        self,
        targets: tuple[WebhookTarget, ...],
        record_failure: RecordFailure,
        on_sent: Callable[[float], None],
        journal: DeliveryJournal | None = None,
        on_delivered: Callable[[str], None] | None = None,
    ) -> None:
        """`on_sent` gets each delivery's latency, `on_delivered` its target's name."""
        self.targets = [
            TargetPublisher(t, record_failure, _counted(on_sent, on_delivered, t.name), journal) for t in targets
        ]

    @property
    def target_names(self) -> tuple[str, ...]:
        return tuple(t.target.name for t in self.targets)

    def publish(self, utterance_id: str, stream_id: str, body: bytes) -> None:
        for target in self.targets:
            target.publish(utterance_id, stream_id, body)

    async def close(self) -> None:
        await asyncio.gather(*(t.close() for t in self.targets))


def _counted(
    on_sent: Callable[[float], None], on_delivered: Callable[[str], None] | None, target: str
) -> Callable[[float], None]:
    if on_delivered is None:
        return on_sent

    def sent(latency_s: float) -> None:
        on_sent(latency_s)
        on_delivered(target)

    return sent
