"""Amazon Connect's namespace: calls named by their ContactId (a UUID), and `amazonConnectParams` (required):
which Kinesis Video stream to read and where to start."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mediagw.core.adapters import MediaHook, Namespace, ParamsInvalid
from mediagw.ingress.kvs.reader import ARN

NAMESPACE = "amazonconnect"
SELECTORS = ("NOW", "FRAGMENT_NUMBER")
CONTACT_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class ConnectParams:
    stream_arn: str
    start_selector_type: str = "NOW"
    after_fragment_number: str = ""

    @classmethod
    def parse(cls, raw: Any) -> ConnectParams:
        arn = raw.get("streamArn") if isinstance(raw, dict) else None
        if not isinstance(arn, str) or len(arn) > 1024 or not ARN.match(arn):  # AWS ARNs: 1024 at most
            raise ParamsInvalid("amazonConnectParams.streamArn must be a Kinesis Video stream ARN")
        assert isinstance(raw, dict)
        selector = raw.get("startSelectorType", "NOW")
        if selector not in SELECTORS:
            raise ParamsInvalid("amazonConnectParams.startSelectorType must be NOW or FRAGMENT_NUMBER")
        fragment = raw.get("afterFragmentNumber")
        if selector == "FRAGMENT_NUMBER" and (not isinstance(fragment, str) or not fragment.isdigit()):
            raise ParamsInvalid("amazonConnectParams.afterFragmentNumber (digits) is required with FRAGMENT_NUMBER")
        return cls(arn, selector, fragment if isinstance(fragment, str) else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "streamArn": self.stream_arn,
            "startSelectorType": self.start_selector_type,
            "afterFragmentNumber": self.after_fragment_number,
        }


def valid_contact_id(guid: str) -> bool:
    return CONTACT_ID.fullmatch(guid) is not None


def connect_namespace(
    pull: Callable[[str], Awaitable[None]] | None = None,
    on_start: MediaHook | None = None,
    on_stop: MediaHook | None = None,
) -> Namespace:
    """Its media is pulled once started: `pull` attaches it, the hooks start and stop the reader."""
    return Namespace(
        NAMESPACE,
        valid_contact_id,
        "amazonConnectParams",
        ConnectParams.parse,
        params_required=True,
        pull=pull,
        on_start=on_start,
        on_stop=on_stop,
    )
