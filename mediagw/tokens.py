"""Short-lived signed tokens for streaming URLs: HMAC-SHA256 over a small JSON claim set.

A token names the endpoint it was issued for (`aud`): a direct API token opens only the direct API's socket, a
Twilio media-stream token only the Twilio endpoint, a WHIP token only WHIP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

DIRECT_API = "stream"  # the direct WebSocket API (POST .../streaming-url)
TWILIO = "twilio"  # Twilio Media Streams (GET .../twilio-media-stream-url)
WEBRTC = "webrtc"  # WHIP's bearer token (POST /mg-webrtc/v1/whip-url), bound to one guid


class InvalidToken(ValueError):
    """Forged, malformed or expired; the message is safe to log."""


@dataclass(frozen=True)
class StreamClaims:
    app_id: str
    external_id: str
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, secret: str, ttl_s: int) -> None:
        self._key = secret.encode() if secret else secrets.token_bytes(32)
        self._ttl_s = ttl_s

    def issue(self, app_id: str, external_id: str, now: float | None = None, audience: str = DIRECT_API) -> str:
        expires = (time.time() if now is None else now) + self._ttl_s
        claims = {"app": app_id, "ext": external_id, "exp": expires, "aud": audience}
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def verify(self, token: str, now: float | None = None, audience: str = DIRECT_API) -> StreamClaims:
        """The claims of a token issued by this key for `audience`; InvalidToken for anything else."""
        body, _, signature = token.partition(".")
        if not token.isascii() or not body or not signature:  # a token is base64url: anything else is forged
            raise InvalidToken("token is malformed")
        if not hmac.compare_digest(signature, self._sign(body)):
            raise InvalidToken("token signature is not valid")
        try:
            claims = json.loads(_unb64(body))
            result = StreamClaims(str(claims["app"]), str(claims["ext"]), float(claims["exp"]))
            issued_for = claims.get("aud")
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise InvalidToken("token claims are malformed") from error
        if issued_for != audience:
            raise InvalidToken(f"token was not issued for this endpoint ({audience})")
        if result.expires_at < (time.time() if now is None else now):
            raise InvalidToken("token has expired")
        return result

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
