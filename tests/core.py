"""The core's parts for unit tests: a call's media on a node of its own, started with a given transcription."""

from __future__ import annotations

from dataclasses import replace

from asr.frame import Pcm
from mediagw.app import register_namespaces
from mediagw.config import load_config
from mediagw.core.adapters import Namespaces
from mediagw.core.media import CallMedia, TranscriptionFactory
from mediagw.core.node import MediaHandle, NodeMedia
from mediagw.core.record import ROLES, CallRecord, TranscriptionParams
from mediagw.core.registry import InMemoryCallRegistry
from mediagw.core.rules import CallRules
from mediagw.metrics import Metrics
from mediagw.tasks import TaskRegistry


class Silent:
    """A participant's transcription that hears nothing and reports `delivered` transcripts at its end."""

    delivered = 0

    def push(self, samples: Pcm) -> None:
        pass

    def set_language(self, code: str) -> None:
        pass

    async def finish(self) -> int:
        return self.delivered


def namespaces(guid_source: str = "auto") -> Namespaces:
    """The adapters' namespaces as the gateway registers them (siprec calls named by `guid_source`)."""
    config = load_config(environ={})
    config = replace(config, siprec=replace(config.siprec, guid_source=guid_source))
    registered = Namespaces()
    register_namespaces(registered, config, None)
    return registered


def node() -> NodeMedia:
    return NodeMedia(InMemoryCallRegistry(), namespaces(), Metrics(), lambda: ["en"], TaskRegistry().keep)


def handle(namespace: str, guid: str) -> MediaHandle:
    """A media handle as an adapter gets it, on a call's media that no registry knows."""
    return MediaHandle(node(), CallMedia(namespace, guid), ROLES)


def begin(media: CallMedia, params: TranscriptionParams, factory: TranscriptionFactory, now: float = 0.0) -> CallMedia:
    """Transcription on for both participants of a new leg, each on what `factory` makes."""
    leg = CallRules().leg_for(CallRecord(media.namespace, media.guid), "c-1", "a-1")
    media.begin(leg.participants, params, None, factory, now)
    return media
