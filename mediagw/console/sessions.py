"""Console sessions: a signed, short-lived cookie naming the app that logged in, and its CSRF token.

The cookie is `base64url(JSON claims).HMAC-SHA256`; nothing is stored server-side but the ids of sessions logged
out before they expired. The key is derived from auth.token_secret when set, so every node of a cluster accepts
the cookie (a start or stop forwarded to the call's node carries it); otherwise it is random per process.
The CSRF token is an HMAC of the session's id: the page reads it from /console/api/session and sends it as a
header with every change, which a cross-site form cannot do (and SameSite=Strict keeps the cookie off them too).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

COOKIE = "mediagw_console"
CSRF_HEADER = "X-CSRF-Token"
MAX_COOKIE_CHARS = 1024


@dataclass(frozen=True)
class ConsoleSession:
    app_id: str
    session_id: str
    expires_at: float  # wall clock


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    def __init__(self, token_secret: str, ttl_s: float) -> None:
        seed = token_secret.encode() if token_secret else secrets.token_bytes(32)
        self._key = hmac.new(seed, b"mediagw console session", hashlib.sha256).digest()
        self.ttl_s = ttl_s
        self._revoked: dict[str, float] = {}  # session id -> its expiry (kept until then)

    def issue(self, app_id: str, now: float | None = None, session_id: str | None = None) -> tuple[ConsoleSession, str]:
        """A session for `app_id` (a renewal keeps `session_id`, and so its CSRF token), and its cookie value."""
        now = time.time() if now is None else now
        session = ConsoleSession(app_id, session_id or secrets.token_urlsafe(12), round(now + self.ttl_s, 3))
        claims = _b64(json.dumps({"a": app_id, "i": session.session_id, "e": session.expires_at}).encode())
        return session, f"{claims}.{self._sign(claims)}"

    def read(self, cookie: str, now: float | None = None) -> ConsoleSession | None:
        """The session a cookie names, if it is ours, unexpired and not logged out."""
        now = time.time() if now is None else now
        claims, _, signature = cookie.partition(".")
        if len(cookie) > MAX_COOKIE_CHARS or not hmac.compare_digest(signature, self._sign(claims)):
            return None
        try:
            data = json.loads(_unb64(claims))
            session = ConsoleSession(str(data["a"]), str(data["i"]), float(data["e"]))
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        if session.expires_at <= now or session.session_id in self._revoked:
            return None
        return session

    def needs_renewal(self, session: ConsoleSession, now: float | None = None) -> bool:
        """Past half its life: the next answer carries a renewed cookie."""
        now = time.time() if now is None else now
        return session.expires_at - now < self.ttl_s / 2

    def revoke(self, session: ConsoleSession, now: float | None = None) -> None:
        """Logged out: this process refuses the cookie until it expires anyway."""
        now = time.time() if now is None else now
        self._revoked = {sid: until for sid, until in self._revoked.items() if until > now}
        self._revoked[session.session_id] = session.expires_at

    def csrf(self, session: ConsoleSession) -> str:
        return self._sign("csrf:" + session.session_id)

    def csrf_ok(self, session: ConsoleSession, token: str) -> bool:
        return bool(token) and hmac.compare_digest(token, self.csrf(session))

    def _sign(self, text: str) -> str:
        return _b64(hmac.new(self._key, text.encode(), hashlib.sha256).digest())
