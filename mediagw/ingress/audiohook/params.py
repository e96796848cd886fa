"""Genesys AudioHook's namespace: calls named by their conversationId (a UUID); no start-streaming parameters."""

from __future__ import annotations

import re

from mediagw.core.adapters import Namespace

NAMESPACE = "genesysaudiohook"
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def valid_conversation_id(guid: str) -> bool:
    return UUID.fullmatch(guid) is not None


def audiohook_namespace() -> Namespace:
    return Namespace(NAMESPACE, valid_conversation_id)
