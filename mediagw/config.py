"""The typed configuration tree: YAML defaults, a user file, then MEDIAGW_* environment overrides.

An override names its path with double underscores: MEDIAGW_ASR__MODEL__DEVICE=cuda sets asr.model.device.
Values are parsed as YAML scalars, so numbers and booleans work; lists take YAML flow syntax.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from asr.model import ModelOptions
from asr.recognizer import DecodeOptions
from asr.segmenter import SegmenterOptions
from mediagw.ingress.siprec.admission import parse_networks
from mediagw.ingress.siprec.callid import guid_config_problem
from mediagw.outputs.webhooks import WebhookTarget
from redaction.rules import CustomRule, RuleError, compile_rules

# Package data, so an installed wheel has its defaults (configs/default.yaml links here).
DEFAULT_CONFIG = resources.files("mediagw").joinpath("default.yaml")
ENV_PREFIX = "MEDIAGW_"


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the setting."""


@dataclass(frozen=True)
class ServerConfig:
    host: str = "0.0.0.0"
    port: int = 8080
    public_url: str = ""  # base of URLs handed to clients, e.g. wss://mg.example.com; empty: from the request
    allowed_hosts: tuple[str, ...] = ()  # Host headers a streamingUrl may be built from (no public_url); empty: any
    tls_cert: str = ""
    tls_key: str = ""
    shutdown_timeout_s: float = 30.0  # SIGTERM to exit (plus at most a few seconds): the promise
    shutdown_close_s: float = 10.0  # its last part (at most half) ends the open streams; before, calls go on
    event_loop: str = "uvloop"  # uvloop (libuv: a third of the per-message cost of media ingest) or asyncio
    max_connections: int = 2000  # open HTTP/WebSocket connections; more are answered 503 and closed (0: no limit)
    idle_timeout_s: float = 75.0  # an HTTP connection without a request (or with unfinished headers) is closed
    body_timeout_s: float = 30.0  # a request body not received this long after its headers: 408, closed (0: none)


# what an API app may call (auth.apps[].scopes); `operations`: POST /v1/drain
SCOPES = ("streaming", "control", "messages", "configuration", "operations")


@dataclass(frozen=True)
class ApiApp:
    id: str
    secret_sha256: str  # hex SHA-256 of the app's secret (`mediagw hash-secret`)
    scopes: tuple[str, ...] = SCOPES  # streaming URLs, start/stop, GET messages, configuration APIs; default: all


@dataclass(frozen=True)
class AuthConfig:
    apps: tuple[ApiApp, ...] = ()
    token_secret: str = ""  # HMAC key for streaming URL tokens; empty: random per process
    token_ttl_s: int = 300
    requests_per_second: float = 100.0  # spike arrest per app; more is answered 429 (0: no limit)
    max_failed_logins: int = 20  # failed credential checks from one address within the window...(0: no limit)
    failed_login_window_s: float = 60.0
    failed_login_block_s: float = 300.0  # ...answer every API request from that address 429 this long


@dataclass(frozen=True)
class RemoteAsrConfig:
    """asr.backend redis: how long an utterance may wait for a remote worker, and how workers hand over jobs."""

    deadline_s: float = 30.0  # an utterance not decoded this long after it closed is dropped (4080), never late
    visibility_timeout_s: float = 15.0  # a job a silent worker held this long is taken over by another
    heartbeat_s: float = 1.0  # workers beat (and nodes poll workers and the queue) this often


@dataclass(frozen=True)
class AsrConfig:
    enabled: bool = True
    backend: str = "local"  # local: the in-process pool; redis: `mediagw asr-worker` processes via cluster.redis_url
    remote: RemoteAsrConfig = field(default_factory=RemoteAsrConfig)
    model: ModelOptions = field(default_factory=ModelOptions)
    decode: DecodeOptions = field(default_factory=DecodeOptions)
    queue_size: int = 256
    max_batch: int = 4
    max_backlog: int = 64  # utterances waiting for a worker beyond which new streams are refused (5002); 0: never
    stream_queue_size: int = 8  # one stream's utterances queued for a worker; beyond it that stream waits


@dataclass(frozen=True)
class LimitsConfig:
    realtime_burst_s: float = 30.0  # how far ahead of real time a stream's media may get before reading pauses
    call_linger_s: float = 900.0  # a call whose media went is kept this long for media resuming it, then ended


@dataclass(frozen=True)
class WebsocketApiConfig:
    path: str = "/autotranscribe/v1/stream"
    idle_timeout_s: float = 60.0
    max_duration_s: float = 10800.0
    max_frame_bytes: int = 65536  # larger binary messages close the socket with 1009
    max_vocabulary_phrases: int = 200
    max_phrase_chars: int = 64
    max_sounds_like: int = 10
    publish_webhooks: bool = False  # also POST this API's transcripts to the webhook targets


@dataclass(frozen=True)
class RedactionConfig:
    mask: str = "#"
    always_redact: bool = False  # streams may not ask for unredacted text (4094)
    allow_pci_disable: bool = False  # administrator setting: CREDIT_CARD_NUMBER and CVV may be turned off
    context_seconds: float = 30.0  # how long a question ("your PIN?") shapes the redaction of the answer
    context_utterances: int = 3  # and for how many of the other party's utterances
    context_wait_s: float = 2.0  # how long an answer waits for the other party's earlier words to be transcribed
    rule_timeout_ms: float = 50.0
    custom_rules: tuple[CustomRule, ...] = ()


@dataclass(frozen=True)
class StoreConfig:
    url: str = ""  # postgresql://user:password@host:port/db; empty: SQLite
    path: str = ""  # SQLite file; empty: mediagw.sqlite3 in data_dir
    retention_days: float = 7.0
    purge_interval_s: float = 3600.0
    synchronous: str = "NORMAL"  # NORMAL survives a crash of the process; FULL also a power cut, at a cost
    buffer_size: int = 10000  # PostgreSQL lost: utterances held for it; beyond, counted and logged
    batch_wait_ms: float = 0.0  # PostgreSQL: extra wait for a batch (0: group commit only)


@dataclass(frozen=True)
class ExportConfig:
    daily: bool = True  # write the previous day's utterances feed every day
    hour_utc: int = 2
    formats: tuple[str, ...] = ("jsonl", "csv")
    directory: str = ""  # empty: exports/ in data_dir


@dataclass(frozen=True)
class WebhooksConfig:
    targets: tuple[WebhookTarget, ...] = ()


@dataclass(frozen=True)
class TwilioConfig:
    path: str = "/mg-autotranscribe/v1/twilio-media-stream"
    idle_timeout_s: float = 30.0  # a socket silent this long is closed (1001) and its audio flushed
    start_grace_s: float = 0.0  # start-streaming before the media connects waits this long (0: 400-203 at once)
    max_message_bytes: int = 65536


@dataclass(frozen=True)
class WebrtcConfig:
    """WebRTC ingress over WHIP (RFC 9725): mediagw/ingress/webrtc/."""

    enabled: bool = True
    max_sessions: int = 200  # concurrent WHIP sessions; one more is answered 503
    connect_timeout_s: float = 15.0  # ICE and DTLS must complete within this after the offer, or the session ends
    idle_timeout_s: float = 30.0  # no audio for this long ends the session (the utterance in progress is flushed)
    max_offer_bytes: int = 65536
    ice_addresses: tuple[str, ...] = ()  # host candidates' addresses; empty: every interface's (aioice's choice)
    stun_servers: tuple[str, ...] = ()  # e.g. stun:stun.example.com:3478 (server-reflexive candidates behind NAT)
    cors_origins: tuple[str, ...] = ("*",)  # origins allowed to call the WHIP endpoint from a page
    data_channel: bool = True  # an offer with a data channel gets the call's transcripts on it
    demo_page: bool = True  # serve samples/webrtc's page at /mg-webrtc/demo/


@dataclass(frozen=True)
class AudioHookKey:
    key: str  # the API key Genesys sends as X-API-KEY
    client_secret: str = ""  # base64 client secret: the upgrade must then carry a valid HTTP message signature
    connector: bool = False  # every session of this key is a Transcription Connector session (else: its path's)
    # A connector session's transcripts (its `event` messages, the store, the webhooks):
    redaction_output: str = "redacted"  # redacted | unredacted | redacted_and_unredacted (the store keeps both)
    smart_formatting: bool = True
    words: bool = True  # each event's words, with their offsets and confidences


@dataclass(frozen=True)
class AudioHookConfig:
    path: str = "/mg-genesysaudiohook-autotranscribe/"
    connector_path: str = "/mg-genesysaudiohook-connector/"  # sessions here are Transcription Connector sessions
    api_keys: tuple[AudioHookKey, ...] = ()  # none: every AudioHook connection is refused
    max_clock_skew_s: float = 300.0  # signature `created` this far off our clock is refused
    idle_timeout_s: float = 60.0  # no message for this long: disconnect, flush


@dataclass(frozen=True)
class AmazonConnectConfig:
    endpoint_url: str = ""  # KVS control-plane endpoint override (tests, VPC endpoints); empty: AWS's
    role_arn: str = ""  # a role to assume for GetMedia (cross-account); empty: the standard credential chain
    external_id: str = ""  # sts:ExternalId for role_arn
    max_readers: int = 400  # concurrent GetMedia readers (each holds one thread while its stream is read)
    retry_initial_s: float = 0.5  # backoff after throttling or a dropped connection, doubling
    retry_max_s: float = 8.0
    max_retries: int = 8  # consecutive failures before the reader gives up and records the error
    start_check_s: float = 1.0  # start-streaming waits this long for the stream's tracks or the reader's failure


@dataclass(frozen=True)
class SiprecConfig:
    enabled: bool = True
    host: str = "0.0.0.0"
    port: int = 5070  # SIP over UDP and TCP (0: any free port, the same for both)
    transports: tuple[str, ...] = ("udp", "tcp")
    tls_port: int = 5071  # SIP over TLS when tls_cert is set (0: any free port)
    tls_cert: str = ""  # PEM chain; empty: no TLS listener
    tls_key: str = ""
    advertised_address: str = ""  # the address in Contact, Via and SDP c=; empty: the SIP socket's address
    rtp_port_min: int = 20000
    rtp_port_max: int = 29999
    codecs: tuple[str, ...] = ("PCMU", "PCMA", "G729")  # preference when an offer allows several
    guid_source: str = "auto"  # auto, header, avaya-ucid, cisco-guid, metadata, call-id
    guid_header: str = ""  # the header (or metadata extension element) that guid_source reads
    agent_aor_pattern: str = ""  # regex on metadata participant AORs that marks the agent
    session_expires_s: int = 1800  # RFC 4028 interval offered when the SRC asks for session timers
    min_session_expires_s: int = 90
    pause_on_dtmf_s: float = 0.0  # > 0: transcription skips keyed DTMF and this long after it (PCI)
    max_calls: int = 2000  # INVITEs past this are answered 503
    media_timeout_s: float = 600.0  # no RTP on any stream this long (not on hold): BYE, recording ended; 0: never
    allowed_sources: tuple[str, ...] = ()  # CIDR networks that may send SIP and RTP (empty: any source)
    max_unconfirmed_per_source: int = 16  # 2xx-answered INVITEs awaiting ACK per source; more: 503 (0: no limit)
    rtp_source_check: str = "sdp"  # sdp: RTP only from the offer's c= address; signalling: the SIP peer's; any
    tcp_max_connections: int = 256  # open SIP connections per listener (TCP, TLS); more are closed (0: no limit)
    tcp_idle_timeout_s: float = 60.0  # a SIP connection without a message or a recording this long is closed


@dataclass(frozen=True)
class ClusterConfig:
    redis_url: str = ""  # redis://[:password@]host:port/db; empty: everything in this process (the default)
    node_id: str = ""  # this node's name in the cluster; empty: hostname:port
    advertise_url: str = ""  # where other nodes send forwarded start/stop; empty: http://hostname:port


@dataclass(frozen=True)
class ConsoleConfig:
    enabled: bool = True  # the ops console at /console/ (mediagw/console/)
    session_ttl_s: float = 900.0  # a login lasts this long without use; each use renews it
    sample_interval_s: float = 5.0  # the health plots sample /metrics' registry this often (15 minutes kept)


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"
    json: bool = False


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    data_dir: str = "./data"
    asr: AsrConfig = field(default_factory=AsrConfig)
    segmenter: SegmenterOptions = field(default_factory=SegmenterOptions)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    websocket_api: WebsocketApiConfig = field(default_factory=WebsocketApiConfig)
    redaction: RedactionConfig = field(default_factory=RedactionConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    twilio: TwilioConfig = field(default_factory=TwilioConfig)
    webrtc: WebrtcConfig = field(default_factory=WebrtcConfig)
    siprec: SiprecConfig = field(default_factory=SiprecConfig)
    audiohook: AudioHookConfig = field(default_factory=AudioHookConfig)
    amazon_connect: AmazonConnectConfig = field(default_factory=AmazonConnectConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)


def load_config(path: str | Path | None = None, environ: typing.Mapping[str, str] | None = None) -> Config:
    tree = _read_yaml(DEFAULT_CONFIG)
    if path:
        _merge(tree, _read_yaml(Path(path)))
    _merge(tree, _env_overrides(os.environ if environ is None else environ))
    config: Config = _build(Config, tree, "")
    config.segmenter.validate()
    _validate_redaction(config.redaction)
    if config.server.event_loop not in ("uvloop", "asyncio"):
        raise ConfigError("server.event_loop must be uvloop or asyncio")
    _validate_siprec(config.siprec)
    _validate_audiohook(config.audiohook)
    server = config.server
    if min(server.max_connections, server.body_timeout_s) < 0 or server.idle_timeout_s <= 0:
        raise ConfigError("server.max_connections and body_timeout_s must be 0 or more, idle_timeout_s above 0")
    if server.shutdown_timeout_s <= 0 or server.shutdown_close_s < 0:
        raise ConfigError("server.shutdown_timeout_s must be above 0, shutdown_close_s 0 or more")
    for app in config.auth.apps:
        if not set(app.scopes) <= set(SCOPES):
            raise ConfigError(f"auth.apps[{app.id}].scopes may hold {', '.join(SCOPES)}")
    _validate_remote_asr(config)
    if config.console.session_ttl_s <= 0 or not 0.1 <= config.console.sample_interval_s <= 60:
        raise ConfigError("console.session_ttl_s must be above 0, console.sample_interval_s within 0.1..60")
    webrtc = config.webrtc
    if webrtc.max_sessions < 0 or min(webrtc.connect_timeout_s, webrtc.idle_timeout_s, webrtc.max_offer_bytes) <= 0:
        raise ConfigError("webrtc.max_sessions must be 0 or more; connect/idle timeouts and max_offer_bytes above 0")
    if config.asr.max_backlog < 0:
        raise ConfigError("asr.max_backlog must be 0 (never refuse) or more")
    if config.asr.stream_queue_size < 1 or min(config.limits.realtime_burst_s, config.limits.call_linger_s) <= 0:
        raise ConfigError("asr.stream_queue_size must be 1 or more, limits.realtime_burst_s and call_linger_s above 0")
    if not set(config.export.formats) <= {"jsonl", "csv"} or not 0 <= config.export.hour_utc <= 23:
        raise ConfigError("export.formats must be jsonl and/or csv, export.hour_utc 0..23")
    for target in config.webhooks.targets:
        try:
            target.validate()
        except ValueError as error:
            raise ConfigError(f"webhooks.targets: {error}") from error
    return config


def _validate_remote_asr(config: Config) -> None:
    asr, remote = config.asr, config.asr.remote
    if asr.backend not in ("local", "redis"):
        raise ConfigError("asr.backend must be local or redis")
    if asr.backend == "redis" and not config.cluster.redis_url:
        raise ConfigError("asr.backend redis needs cluster.redis_url")
    if min(remote.deadline_s, remote.visibility_timeout_s, remote.heartbeat_s) <= 0:
        raise ConfigError("asr.remote.deadline_s, visibility_timeout_s and heartbeat_s must be above 0")


def _validate_audiohook(audiohook: AudioHookConfig) -> None:
    for entry in audiohook.api_keys:
        if entry.redaction_output not in ("redacted", "unredacted", "redacted_and_unredacted"):
            raise ConfigError("audiohook.api_keys[].redaction_output must be redacted, unredacted or both")
        if entry.redaction_output != "unredacted" and not entry.smart_formatting:
            raise ConfigError("audiohook.api_keys[]: redaction needs smart_formatting (as the API's 4092)")
    if audiohook.connector_path.rstrip("/") == audiohook.path.rstrip("/"):
        raise ConfigError("audiohook.connector_path must differ from audiohook.path")


def _validate_siprec(siprec: SiprecConfig) -> None:
    if not set(siprec.transports) <= {"udp", "tcp"} or not siprec.transports:
        raise ConfigError("siprec.transports must be udp and/or tcp")

    if not 1024 <= siprec.rtp_port_min < siprec.rtp_port_max <= 65535:
        raise ConfigError("siprec.rtp_port_min..rtp_port_max must be a range within 1024..65535")
    if problem := guid_config_problem(siprec.guid_source, siprec.guid_header):
        raise ConfigError(problem)
    if not set(siprec.codecs) <= {"PCMU", "PCMA", "G729"}:
        raise ConfigError("siprec.codecs may hold PCMU, PCMA and G729")
    try:
        parse_networks(siprec.allowed_sources)
    except ValueError as error:
        raise ConfigError(f"siprec.allowed_sources: {error}") from error
    if siprec.rtp_source_check not in ("sdp", "signalling", "any"):
        raise ConfigError("siprec.rtp_source_check must be sdp, signalling or any")
    if min(siprec.max_unconfirmed_per_source, siprec.tcp_max_connections, siprec.tcp_idle_timeout_s) < 0:
        raise ConfigError(
            "siprec.max_unconfirmed_per_source, tcp_max_connections and tcp_idle_timeout_s must be 0 or more"
        )


def _validate_redaction(redaction: RedactionConfig) -> None:
    if len(redaction.mask) != 1 or redaction.mask.isalnum():
        raise ConfigError("redaction.mask must be one character that is not a letter or digit")
    try:
        compile_rules(redaction.custom_rules, redaction.mask, redaction.rule_timeout_ms / 1000)
    except RuleError as error:
        raise ConfigError(f"redaction.custom_rules: {error}") from error


def _read_yaml(path: Path | Traversable) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read configuration {path}: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"configuration {path} must be a mapping")
    return data


def _env_overrides(environ: typing.Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = name[len(ENV_PREFIX) :].lower().split("__")
        node = tree
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = yaml.safe_load(raw) if raw != "" else ""
    return tree


def _merge(base: dict[str, Any], override: dict[str, Any]) -> None:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'configuration'} must be a mapping")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(sorted(f'{where}{k}' for k in unknown))}")
    values = {name: _coerce(hints[name], data[name], f"{where}{name}") for name in names if name in data}
    try:
        return cls(**values)
    except TypeError as error:
        raise ConfigError(f"{where or 'configuration'}: {error}") from error


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(typing.cast(type, hint), value, where + ".")
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list")
        item = typing.get_args(hint)[0]
        return tuple(_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is str and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{where} must be {hint.__name__}, got {value!r}")
    return value
