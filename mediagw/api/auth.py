"""API credentials: asapp-api-id / asapp-api-secret against configured apps, secrets kept as SHA-256."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from aiohttp import web

from mediagw.api.errors import ApiError
from mediagw.config import ApiApp


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Authenticator:
    def __init__(self, apps: Iterable[ApiApp]) -> None:
        self._secrets = {app.id: app.secret_sha256.lower() for app in apps}

    def authenticate(self, request: web.Request) -> str:
        """The app id of a request with valid credentials; otherwise 401 in the documented shape."""
        app_id = request.headers.get("asapp-api-id", "")
        secret = request.headers.get("asapp-api-secret", "")
        if not app_id or not secret:
            raise ApiError(401, "401-01", "asapp-api-id and asapp-api-secret headers are required")
        expected = self._secrets.get(app_id, "0" * 64)
        if not hmac.compare_digest(hash_secret(secret), expected) or app_id not in self._secrets:
            raise ApiError(401, "401-02", "Invalid API credentials")
        return app_id
