"""API credentials: asapp-api-id / asapp-api-secret against configured apps, secrets kept as SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

from aiohttp import web

from mediagw.api.errors import ApiError
from mediagw.config import ApiApp


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class SpikeArrest:
    """A token bucket per app: `rate` requests per second, bursts up to `rate` (the reference's spike arrest)."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._buckets: dict[str, tuple[float, float]] = {}  # app id -> (tokens, last refill)

    def allow(self, app_id: str, now: float | None = None) -> bool:
        if self._rate <= 0:
            return True
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(app_id, (self._rate, now))
        tokens = min(self._rate, tokens + (now - last) * self._rate)
        allowed = tokens >= 1
        self._buckets[app_id] = (tokens - 1 if allowed else tokens, now)
        return allowed


class Authenticator:
    def __init__(self, apps: Iterable[ApiApp], requests_per_second: float = 100.0) -> None:
        self._secrets = {app.id: app.secret_sha256.lower() for app in apps}
        self._arrest = SpikeArrest(requests_per_second)

    def authenticate(self, request: web.Request) -> str:
        """The app id of a request with valid credentials; otherwise 401 in the documented shape."""
        app_id = request.headers.get("asapp-api-id", "")
        secret = request.headers.get("asapp-api-secret", "")
        if not app_id or not secret:
            raise ApiError(401, "401-01", "asapp-api-id and asapp-api-secret headers are required")
        expected = self._secrets.get(app_id, "0" * 64)
        if not hmac.compare_digest(hash_secret(secret), expected) or app_id not in self._secrets:
            raise ApiError(401, "401-02", "Invalid API credentials")
        if not self._arrest.allow(app_id):
            raise ApiError(429, "429-01", "Too many requests: spike arrest limit reached, retry with backoff")
        return app_id
