"""SIPREC's namespace: calls named as `callid.guid_of` names them, and its start-streaming `siprecParams`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mediagw.config import SiprecConfig
from mediagw.core.adapters import Namespace, ParamsInvalid
from mediagw.ingress.siprec.callid import valid_guid

NAMESPACE = "siprec"
ORDERS = ("CUSTOMER_FIRST", "AGENT_FIRST")


@dataclass(frozen=True)
class SiprecParams:
    media_line_order: str = "CUSTOMER_FIRST"  # which m-line is the customer's when the metadata does not say

    @classmethod
    def parse(cls, raw: Any) -> SiprecParams:
        order = raw.get("mediaLineOrder", "CUSTOMER_FIRST") if isinstance(raw, dict) else None
        if order not in ORDERS:
            raise ParamsInvalid("siprecParams.mediaLineOrder must be CUSTOMER_FIRST or AGENT_FIRST")
        return cls(order)

    def to_json(self) -> dict[str, Any]:
        return {"mediaLineOrder": self.media_line_order}


def siprec_namespace(config: SiprecConfig) -> Namespace:
    source = config.guid_source  # what the adapter names calls by is what start/stop accept

    def check(guid: str) -> bool:
        return valid_guid(guid, source)

    return Namespace(NAMESPACE, check, "siprecParams", SiprecParams.parse)
