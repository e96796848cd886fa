"""Wires the gateway: configuration to services, services to routes, and start-up and shutdown order."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import ssl
from functools import partial
from pathlib import Path

from aiohttp import web

from asr.pool import AsrPool
from asr.recognizer import Recognizer
from mediagw.api import configuration, control, messages, openapi, routes, vocabularies
from mediagw.api.auth import Authenticator, FailedLogins
from mediagw.api.errors import error_middleware
from mediagw.api.forward import stop_shares
from mediagw.backends.redis_link import node_name
from mediagw.backends.redis_registry import RedisCallRegistry
from mediagw.config import Config
from mediagw.console import routes as console
from mediagw.core.adapters import Namespaces
from mediagw.core.registry import RegistryUnavailable
from mediagw.ingress.audiohook.params import audiohook_namespace
from mediagw.ingress.audiohook.transport import handle_audiohook
from mediagw.ingress.kvs.connect import ConnectReaders
from mediagw.ingress.kvs.params import connect_namespace
from mediagw.ingress.siprec.params import siprec_namespace
from mediagw.ingress.siprec.transport import SiprecServer
from mediagw.ingress.twilio.params import twilio_namespace
from mediagw.ingress.twilio.transport import handle_media_stream
from mediagw.ingress.webrtc import whip
from mediagw.ingress.webrtc.params import webrtc_namespace
from mediagw.ingress.websocket_api.transport import direct_namespace, handle_stream
from mediagw.listeners import body_deadline
from mediagw.metrics import Metrics
from mediagw.outputs.deliveries import DeliveryJournal
from mediagw.outputs.export import export_daily
from mediagw.outputs.files import private_directory
from mediagw.outputs.spool import AudioSpool
from mediagw.outputs.store import TranscriptStore, create_store
from mediagw.outputs.store_settings import load_entity_settings
from mediagw.outputs.webhooks import WebhookPublisher
from mediagw.postprocess import Conversations, TextStage
from mediagw.recovery import recover_spooled
from mediagw.services import Services
from mediagw.shared.leases import Leases
from mediagw.shared.state import check_cluster, open_shared
from mediagw.shutdown import LEAVE_S, Shutdown
from mediagw.tokens import TokenSigner
from redaction.redactor import RedactionOptions, Redactor
from redaction.rules import compile_rules
from redaction.settings import EntitySettings

log = logging.getLogger(__name__)
SHUTDOWN: web.AppKey[Shutdown] = web.AppKey("shutdown", Shutdown)
CONNECT: web.AppKey[ConnectReaders] = web.AppKey("connect", ConnectReaders)
SIPREC: web.AppKey[SiprecServer] = web.AppKey("siprec", SiprecServer)  # when siprec.enabled


def load_recognizer(config: Config) -> Recognizer:
    """The configured model; ModelNotFound (naming the path or model) when it cannot be loaded here."""
    return Recognizer(config.asr.model, config.asr.decode, cache_dir=Path(config.data_dir) / "models")


def build_text_stage(config: Config) -> tuple[EntitySettings, TextStage]:
    settings = config.redaction
    entities = EntitySettings(settings.allow_pci_disable)
    rules = compile_rules(settings.custom_rules, settings.mask, settings.rule_timeout_ms / 1000)
    redactor = Redactor(RedactionOptions(settings.mask, settings.rule_timeout_ms / 1000), rules)
    conversations = Conversations(settings.context_seconds, settings.context_utterances)
    return entities, TextStage(redactor, entities, conversations, settings.mask)


def check_text_stage(entities: EntitySettings, stage: TextStage) -> None:
    """At start-up: the active entities can run here (ConfigError naming the missing extra otherwise)."""
    stage.require_model(entities.active)


def register_namespaces(namespaces: Namespaces, config: Config, connect: ConnectReaders | None) -> None:
    """Each adapter's namespace, in the order start-streaming's errors name them (`connect` None: without
    Amazon Connect's hooks, for checking requests only)."""
    namespaces.register(siprec_namespace(config.siprec))
    namespaces.register(twilio_namespace(config.twilio))
    namespaces.register(audiohook_namespace())
    namespaces.register(connect.namespace() if connect is not None else connect_namespace())
    namespaces.register(webrtc_namespace())
    namespaces.register(direct_namespace())


def build_app(config: Config, recognizer: Recognizer | None = None) -> web.Application:
    """`recognizer` lets several gateways in one process (tests, benchmarks) share a loaded model."""
    entities, text_stage = build_text_stage(config)
    check_text_stage(entities, text_stage)
    check_cluster(config)
    signer = TokenSigner(config.auth.token_secret, config.auth.token_ttl_s)
    namespaces = Namespaces()  # the adapters' registrations (below); a shared registry decodes their parameters
    cluster = _shared_registry(config, namespaces)
    services = Services(config, Metrics(), signer, entities, text_stage, namespaces=namespaces, cluster=cluster)
    middlewares = [body_deadline(config.server.body_timeout_s), error_middleware]
    app = web.Application(middlewares=middlewares, client_max_size=1024 * 1024)
    app[routes.SERVICES] = services
    if config.siprec.enabled:
        app[SIPREC] = siprec = SiprecServer(services)  # listens from start-up on
        services.runners.append(siprec)
    app[CONNECT] = connect = ConnectReaders(services)  # Amazon Connect's media is pulled by a start
    services.runners.append(connect)
    register_namespaces(services.namespaces, config, connect)
    app[SHUTDOWN] = Shutdown(services)
    auth = config.auth
    failed_logins = FailedLogins(auth.max_failed_logins, auth.failed_login_window_s, auth.failed_login_block_s)
    app[routes.AUTH] = Authenticator(auth.apps, services.shared, failed_logins)
    app.router.add_post("/autotranscribe/v1/streaming-url", routes.streaming_url)
    app.router.add_post("/autotranscribe/v1/streaming-url/", routes.streaming_url)
    app.router.add_get("/v1/health", routes.health)
    app.router.add_get("/v1/ready", routes.ready)
    app.router.add_post("/v1/drain", routes.drain)
    app.router.add_get("/metrics", routes.metrics)
    app.router.add_get("/conversation/v1/conversation/messages", messages.list_messages)
    configuration.add_routes(app)
    control.add_routes(app, cluster=bool(config.cluster.redis_url))
    vocabularies.add_routes(app)
    app.router.add_get("/openapi.json", openapi.openapi)
    app.router.add_get(config.websocket_api.path, partial(_stream, services=services))
    app.router.add_get(config.twilio.path, partial(_twilio, services=services))
    audiohook = partial(_audiohook, services=services)
    for base in (config.audiohook.path, config.audiohook.connector_path):  # Monitor, Transcription Connector
        for path in {base, base.rstrip("/") or "/"}:  # with or without the slash
            app.router.add_get(path, audiohook)
    app.router.add_get("/mg-autotranscribe/v1/twilio-media-stream-url", routes.twilio_media_stream_url)
    if config.console.enabled:
        console.add_routes(app, services)
    if config.webrtc.enabled:
        whip.add_routes(app, services)
    app.on_startup.append(partial(_start_services, services=services, recognizer=recognizer))
    app.on_startup.append(_start_sip_ingress)
    app.on_shutdown.append(partial(_end_sessions, services=services))
    app.on_cleanup.append(partial(_stop_services, services=services))
    return app


async def _stream(request: web.Request, services: Services) -> web.StreamResponse:
    return await handle_stream(request, services)


async def _twilio(request: web.Request, services: Services) -> web.StreamResponse:
    return await handle_media_stream(request, services)


async def _audiohook(request: web.Request, services: Services) -> web.StreamResponse:
    return await handle_audiohook(request, services, services.shared.nonces)  # local, or Redis once started


REGISTRY_CONNECTIONS = 32  # a burst of start/stop waits for a connection rather than failing


def _shared_registry(config: Config, namespaces: Namespaces) -> RedisCallRegistry | None:
    """cluster.redis_url: call records in Redis, shared by every node (connected at start-up)."""
    url = config.cluster.redis_url
    if not url:
        return None
    from mediagw.backends.redis_link import client, node_name, where

    scheme = "https" if config.server.tls_cert else "http"
    control_url = config.cluster.advertise_url or f"{scheme}://{socket.gethostname()}:{config.server.port}"
    redis = client(url, pool_size=REGISTRY_CONNECTIONS)
    linger_s = config.limits.call_linger_s
    return RedisCallRegistry(redis, namespaces.decode_params, node_name(config), control_url, where(url), linger_s)


async def _start_cluster(services: Services) -> None:
    """The shared registry's Redis must answer (RedisUnavailable, naming the host, stops start-up); then this
    node's heartbeat keeps its ownerships alive and says whether Redis is reachable (health FAILED if not)."""
    cluster = services.cluster
    if cluster is None:
        return
    from mediagw.backends.redis_link import connect

    await (await connect(services.config.cluster.redis_url, "call registry")).aclose()
    await cluster.beat()
    log.info("call registry: Redis (node %s at %s)", cluster.node.owner, cluster.node.control_url)

    def healthy(ok: bool) -> None:
        services.cluster_healthy = ok

    def held() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The calls whose media is here: attached, and lingering (every source gone)."""
        calls = list(services.media)
        attached = [(m.namespace, m.guid) for m in calls if m.sources > 0]
        return attached, [(m.namespace, m.guid) for m in calls if m.sources == 0]

    services.tasks.keep(cluster.heartbeat(held, healthy, services.watchers.changed), name="cluster-heartbeat")
    services.tasks.keep(_reconcile_forever(services), name="cluster-reconcile")
    services.calls.peers = partial(stop_shares, services)


async def _reconcile_forever(services: Services) -> None:
    """A call's start/stop answered on another node reaches this node's share of its media (core/lifecycle.py)."""
    from mediagw.backends.redis_registry import HEARTBEAT_S

    while True:
        try:
            await services.calls.reconcile()
        except RegistryUnavailable:
            pass  # the heartbeat logs it and health says so
        except Exception:
            log.exception("call registry: reconcile failed")
        await asyncio.sleep(HEARTBEAT_S)


async def _start_services(app: web.Application, services: Services, recognizer: Recognizer | None) -> None:
    private_directory(Path(services.config.data_dir))
    await _start_cluster(services)
    if not services.config.server.public_url and not services.config.server.allowed_hosts:
        log.warning(
            "server.public_url and server.allowed_hosts are empty: streamingUrl is built from whatever Host header "
            "a client sends, so a forged Host can point a client's audio elsewhere; set one of them"
        )
    settings = services.config.store
    if services.config.cluster.redis_url:  # RedisUnavailable (naming the host, never a password) stops start-up
        shared = await open_shared(services.config, services.shared, node_name(services.config), services.text_stage)
        services.tasks.keep(shared.watch(), name="shared-watch")
    services.store = create_store(services.config, services.metrics.store_dropped.inc)
    await services.store.open()  # StoreUnavailable (naming the host, never a password) stops start-up
    log.info("transcript store: %s", services.store.description)
    await load_entity_settings(services.store, services.entity_settings, Path(services.config.data_dir))
    check_text_stage(services.entity_settings, services.text_stage)  # what was kept may need the NER model
    services.spool = AudioSpool(Path(services.config.data_dir) / "spool", services.store)
    await vocabularies.load(services)
    if services.config.cluster.redis_url:  # other nodes change vocabulary and entities through the same store
        from mediagw.shared.settings import follow_store

        services.tasks.keep(follow_store(services), name="follow-store")
    purge = _purge_forever(services.store, services.shared.leases, settings.retention_days, settings.purge_interval_s)
    services.tasks.keep(purge, name="purge")
    exports = services.config.export
    if exports.daily:
        directory = Path(exports.directory or Path(services.config.data_dir) / "exports")
        daily = export_daily(services.store, services.shared.leases, directory, exports.hour_utc, exports.formats)
        services.tasks.keep(daily, name="export")
    if services.config.webhooks.targets:
        services.publisher = WebhookPublisher(
            services.config.webhooks.targets,
            partial(_count_failure, services),
            services.metrics.webhook_latency.observe,
            DeliveryJournal(services.store.record_deliveries),  # every message's outcome, in the store
            lambda target: services.metrics.webhook_deliveries.labels(target).inc(),
        )
    await _start_asr(services, recognizer)
    gc.freeze()  # what start-up loaded (libraries, model, tokenizer) stays out of every later full collection


async def _start_asr(services: Services, recognizer: Recognizer | None) -> None:
    """The ASR backend: none, remote workers, or the in-process pool on the model (loaded here unless given)."""
    if not services.config.asr.enabled:
        log.info("ASR is disabled: audio is counted, not transcribed")
        return
    if services.config.asr.backend == "redis":  # the model runs in `mediagw asr-worker` processes
        from mediagw.backends.redis_asr import open_remote_asr

        services.pool = services.remote_asr = await open_remote_asr(services.config, services.metrics.registry)
        services.tasks.keep(recover_spooled(services), name="recover-spool")
        return
    if recognizer is None:
        recognizer = await asyncio.to_thread(load_recognizer, services.config)
    services.recognizer = recognizer
    languages = services.language_tags
    shown = ", ".join(languages[:8]) + (f" and {len(languages) - 8} more" if len(languages) > 8 else "")
    log.info(
        "ASR model %s (%s) on %s; languages %s", recognizer.model_name, recognizer.model_path, recognizer.device, shown
    )
    asr = services.config.asr
    services.pool = AsrPool(
        recognizer.recognize_batch, asr.model.workers, asr.queue_size, asr.max_batch, asr.stream_queue_size
    )
    services.pool.start()
    services.tasks.keep(recover_spooled(services), name="recover-spool")  # what the last shutdown left undecoded


async def _start_sip_ingress(app: web.Application) -> None:
    """Ingress that is not an HTTP route and listens: the SIPREC SIP/RTP sockets."""
    if SIPREC in app:
        await app[SIPREC].start()


async def drain(app: web.Application, immediately: bool = False) -> None:
    """Graceful shutdown (SIGTERM), to run before the runner's cleanup while sockets are still read: new work is
    refused, calls in progress go on, open streams are ended near the deadline and what is undecoded at it is
    spooled (mediagw/shutdown.py). `immediately` (a second signal): the deadline is now.

    aiohttp stops reading every connection, WebSockets included, as its own shutdown begins; a client's answer
    such as AudioHook's `close` after our `disconnect` would never arrive.
    """
    await app[SHUTDOWN].run(immediately)


def hurry(app: web.Application) -> None:
    """A second signal during `drain`: end everything now."""
    app[SHUTDOWN].hurry()


async def _end_sessions(app: web.Application, services: Services) -> None:
    """The runner's shutdown without a `drain` first: the same steps, at once (`drain` ran: done already)."""
    await app[SHUTDOWN].run(immediately=not app[SHUTDOWN].started)


async def _purge_forever(store: TranscriptStore, leases: Leases, retention_days: float, interval_s: float) -> None:
    """Retention: conversations untouched for `retention_days` go, with everything stored for them; in a cluster
    one node does it each interval (the others find the lease held or the purge done, and wait their next turn)."""
    while True:
        try:
            removed = await _purge_once(store, leases, retention_days, interval_s)
            if removed:
                log.info("retention purge removed %d conversation(s)", removed)
        except Exception:
            log.exception("retention purge failed")
        await asyncio.sleep(interval_s)


async def _purge_once(store: TranscriptStore, leases: Leases, retention_days: float, interval_s: float) -> int:
    """This interval's purge, unless another node holds the lease or did it within the interval."""
    async with leases.hold("purge") as held:
        if not held or await leases.done("purge"):
            return 0
        removed = await store.purge(retention_days * 86400)
        await leases.mark_done("purge", interval_s * 0.9)  # a node's next turn finds it due again
        return removed


async def _count_failure(
    services: Services, utterance_id: str, target: str, outcome: str, attempts: int, detail: str
) -> None:
    """A message not delivered (its record is the delivery journal's)."""
    services.metrics.webhook_failures.labels(target, outcome).inc()


async def _stop_services(app: web.Application, services: Services) -> None:
    services.tasks.stop("cluster-heartbeat")
    services.tasks.stop("cluster-reconcile")
    if services.forwarding is not None:
        await services.forwarding.close()
    if services.cluster is not None:
        await services.cluster.close()
    services.tasks.stop("purge")
    services.tasks.stop("export")
    services.tasks.stop("linger-", prefix=True)
    services.tasks.stop("recover-spool")
    services.tasks.stop("shared-watch")
    services.tasks.stop("follow-store")
    await services.tasks.drain(LEAVE_S)  # flushes still spooling; past that the promise wins
    if services.publisher is not None:
        await services.publisher.close()
    if services.pool is not None:
        await services.pool.close()
    if services.store is not None:
        await services.store.close()
    if services.shared.redis is not None:
        await services.shared.redis.close()


def ssl_context(config: Config) -> ssl.SSLContext | None:
    if not config.server.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.server.tls_cert, config.server.tls_key or None)
    return context
