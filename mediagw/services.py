"""The wiring the routes and adapters share: configuration, the core's parts, ASR, outputs, open sessions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from asr.backend import AsrBackend
from asr.recognizer import Recognizer
from mediagw.config import Config
from mediagw.core.adapters import IngressRunner, Namespaces
from mediagw.core.lifecycle import CallLifecycle, StartRequest
from mediagw.core.node import NodeMedia
from mediagw.core.record import LOCAL_NODE, Leg
from mediagw.core.registry import CallRegistry, InMemoryCallRegistry
from mediagw.core.watch import CallWatchers, WatchedRegistry
from mediagw.delivery import Delivery
from mediagw.languages import language_tags
from mediagw.metrics import Metrics
from mediagw.outputs.spool import AudioSpool
from mediagw.outputs.store import StreamRecord, TranscriptStore
from mediagw.outputs.webhooks import WebhookPublisher
from mediagw.postprocess import TextStage
from mediagw.shared.state import SharedState, local_state
from mediagw.streams import PipelineFactory
from mediagw.tasks import TaskRegistry
from mediagw.tokens import TokenSigner
from mediagw.vocabulary import Vocabulary
from redaction.settings import EntitySettings

if TYPE_CHECKING:
    from aiohttp import ClientSession

    from mediagw.backends.redis_asr import RedisAsr
    from mediagw.backends.redis_registry import RedisCallRegistry

log = logging.getLogger(__name__)


class Session(Protocol):
    def shutdown(self) -> None:
        """Stop taking media, flush what was received, tell the client (5001) and close."""

    async def wait_closed(self) -> None: ...


@dataclass
class Services:
    config: Config
    metrics: Metrics
    signer: TokenSigner
    entity_settings: EntitySettings
    text_stage: TextStage
    recognizer: Recognizer | None = None
    pool: AsrBackend | None = None  # the in-process pool, or remote_asr
    remote_asr: RedisAsr | None = None  # asr.backend redis
    store: TranscriptStore | None = None
    publisher: WebhookPublisher | None = None
    spool: AudioSpool | None = None  # what the shutdown deadline left undecoded
    registry: CallRegistry = field(default_factory=InMemoryCallRegistry)
    cluster: RedisCallRegistry | None = None  # cluster.redis_url: the shared registry (then also `registry`)
    cluster_healthy: bool = True  # the shared registry's Redis answered the last heartbeat
    forwarding: ClientSession | None = None  # start/stop forwarded to the node holding the media (api/forward.py)
    namespaces: Namespaces = field(default_factory=Namespaces)  # the adapters' registrations (app.py)
    runners: list[IngressRunner] = field(default_factory=list)  # ingress that is no HTTP route (SIPREC, KVS)
    sessions: set[Session] = field(default_factory=set)
    custom_vocabulary: Vocabulary = field(default_factory=Vocabulary)  # the configuration API's phrases
    tasks: TaskRegistry = field(default_factory=TaskRegistry)
    draining: bool = False  # new work is refused (ready 503); calls in progress go on
    shutting_down: bool = False  # open streams are being ended (the last part of the shutdown timeout)
    watchers: CallWatchers = field(init=False)  # who watches calls change: the ops console (core/watch.py)
    shared: SharedState = field(init=False)  # spike arrest, replay cache, leases: local, or Redis from start-up

    def __post_init__(self) -> None:
        self.shared = local_state(self.config)
        self.delivery = Delivery(self)
        self.pipelines = PipelineFactory(self)
        if self.cluster is not None:
            self.registry = self.cluster
        self.watchers = CallWatchers()  # the ops console, while it runs (mediagw/console/)
        self.registry = WatchedRegistry(self.registry, self.watchers.changed, self.watchers.recorded)
        node_id = self.cluster.node.owner if self.cluster is not None else LOCAL_NODE
        self.media = NodeMedia(
            self.registry,
            self.namespaces,
            self.metrics,
            lambda: self.languages,
            self.tasks.keep,
            node_id,
            self.watchers.changed,
            self.config.limits.call_linger_s,
            self.cluster,  # a shared registry keeps the calls' linger deadlines
        )
        self.calls = CallLifecycle(
            self.registry,
            self.media,
            self.namespaces,
            self,
            self.pipelines.for_call,
            self._open_streams,
            self.metrics,
        )
        self.media.resume = self.calls.resume

    @property
    def languages(self) -> list[str]:
        """ISO 639-1 codes of the loaded model, or of the live remote workers (a gateway without ASR takes English,
        as the bundled model)."""
        if self.remote_asr is not None:
            return self.remote_asr.languages
        return self.recognizer.languages if self.recognizer is not None else ["en"]

    @property
    def language_tags(self) -> tuple[str, ...]:
        """The model's languages as clients name them (en-US, es-US...)."""
        return language_tags(self.languages)

    def begin_drain(self) -> None:
        """Refuse new work from now on (SIGTERM, POST /v1/drain); what is in progress goes on."""
        if not self.draining:
            log.info("draining: new streams, sessions and SIPREC INVITEs are refused")
        self.draining = True
        for runner in self.runners:
            runner.drain()

    def in_progress(self, asr: bool = True) -> int:
        """Work a drain waits for: open sockets, SIPREC recordings, KVS readers, (`asr`) utterances not yet decoded
        and streams still flushing after their client went away."""
        return (
            len(self.sessions)
            + sum(runner.in_progress for runner in self.runners)
            + (self.pool.unfinished if self.pool is not None and asr else 0)
            + self.tasks.running("drain-")
        )

    def overloaded(self) -> bool:
        """More than asr.max_backlog utterances wait for a worker: a new stream is refused (5002)."""
        limit = self.config.asr.max_backlog
        return self.pool is not None and limit > 0 and self.pool.backlog > limit

    async def _open_streams(self, start: StartRequest, leg: Leg) -> None:
        """start-streaming: the leg's streams opened in the store, before any of their utterances."""
        if self.store is None:
            return
        ids = (start.agent_id, start.customer_id)
        await self.store.open_stream(
            *(
                StreamRecord(p.stream_id, start.namespace, start.guid, p.role, p.external_id, *ids)
                for p in leg.participants
            )
        )
