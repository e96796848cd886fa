"""API credentials: asapp-api-id / asapp-api-secret against configured apps, secrets kept as SHA-256.

Each app may call the APIs of its scopes only (403 otherwise). Failed credential checks are counted per source
address: past `max_failed_logins` within the window, every API request from that address is answered 429 for
`failed_login_block_s`, right secret or not, so guessing costs a guesser the address while other clients go on.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from aiohttp import web

from mediagw.api.errors import ApiError
from mediagw.config import SCOPES, ApiApp
from mediagw.shared.arrest import SpikeArrest

if TYPE_CHECKING:
    from mediagw.shared.state import SharedState

__all__ = ["Authenticator", "FailedLogins", "SpikeArrest", "hash_secret"]

MAX_TRACKED_SOURCES = 10_000  # addresses with recent failures kept; the oldest is forgotten past this


def hash_secret(secret: str) -> str:
    # a header that is not UTF-8 arrives surrogate-escaped: hashed as its bytes, it simply does not match
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


class FailedLogins:
    """Failures per source address in a fixed window; a source over the limit is blocked for `block_s`."""

    def __init__(self, limit: int, window_s: float, block_s: float, max_sources: int = MAX_TRACKED_SOURCES) -> None:
        self._limit = limit
        self._window_s = window_s
        self._block_s = block_s
        self._max_sources = max_sources
        self._sources: OrderedDict[str, tuple[float, int, float]] = OrderedDict()  # (window start, count, blocked)

    def blocked(self, source: str, now: float) -> bool:
        entry = self._sources.get(source)
        return entry is not None and entry[2] > now

    def failed(self, source: str, now: float) -> None:
        if self._limit <= 0:
            return
        start, count, until = self._sources.pop(source, (now, 0, 0.0))
        if now - start > self._window_s:
            start, count = now, 0
        count += 1
        if count >= self._limit:
            until = now + self._block_s
        self._sources[source] = (start, count, until)
        while len(self._sources) > self._max_sources:
            self._sources.popitem(last=False)

    def succeeded(self, source: str) -> None:
        entry = self._sources.get(source)
        if entry is not None and entry[2] == 0.0:
            del self._sources[source]


class Authenticator:
    def __init__(
        self,
        apps: Iterable[ApiApp],
        shared: SharedState,
        failed_logins: FailedLogins | None = None,
    ) -> None:
        """`shared.arrest` is read per request: start-up replaces it when the node joins a cluster."""
        apps = tuple(apps)
        self._secrets = {app.id: app.secret_sha256.lower() for app in apps}
        self._scopes = {app.id: frozenset(app.scopes) for app in apps}
        self._shared = shared
        self._failures = failed_logins or FailedLogins(0, 0.0, 0.0)

    async def authenticate(self, request: web.Request, scope: str) -> str:
        """The app id of a request with valid credentials and `scope`; otherwise 401, 403 or 429 as documented."""
        assert scope in SCOPES
        app_id = request.headers.get("asapp-api-id", "")
        secret = request.headers.get("asapp-api-secret", "")
        scopes = self.verify(request.remote or "", app_id, secret)
        if scope not in scopes:
            raise ApiError(403, "403-02", f"This app is not allowed to use this API (scope {scope})")
        await self.arrest(app_id)
        return app_id

    def verify(self, source: str, app_id: str, secret: str) -> frozenset[str]:
        """The scopes of an app whose credentials are right (the API's headers, or the console's login form);
        401 or 429 as documented otherwise, each wrong secret counted against `source`."""
        now = time.monotonic()
        if self._failures.blocked(source, now):
            raise ApiError(429, "429-02", "Too many failed authentication attempts from this address, retry later")
        if not app_id or not secret:  # not a guess: not counted
            raise ApiError(401, "401-01", "asapp-api-id and asapp-api-secret headers are required")
        expected = self._secrets.get(app_id, "0" * 64)
        if not hmac.compare_digest(hash_secret(secret), expected) or app_id not in self._secrets:
            self._failures.failed(source, now)
            raise ApiError(401, "401-02", "Invalid API credentials")
        self._failures.succeeded(source)
        return self._scopes[app_id]

    def scopes(self, app_id: str) -> frozenset[str]:
        """An app's scopes now (none for an app no longer configured)."""
        return self._scopes.get(app_id, frozenset())

    async def arrest(self, app_id: str) -> None:
        """Spike arrest per app (429-01)."""
        if not await self._shared.arrest.allow(app_id):
            raise ApiError(429, "429-01", "Too many requests: spike arrest limit reached, retry with backoff")
