"""The `mediagw` command: serve the gateway, transcribe a file offline, hash an API secret, check config."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from asr.model import ModelNotFound
from asr.recognizer import Recognizer
from mediagw.api.auth import hash_secret
from mediagw.app import build_app, drain, hurry, load_recognizer, ssl_context
from mediagw.backends.redis_link import RedisUnavailable
from mediagw.config import Config, ConfigError, load_config
from mediagw.languages import model_language, supported
from mediagw.listeners import http_runner, start_http_site
from mediagw.logs import configure_logging
from mediagw.outputs.store import StoreUnavailable, create_store, sqlite_path
from mediagw.shutdown import HARD_EXIT_S, abort_connections

log = logging.getLogger("mediagw")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mediagw", description="Real-time media gateway and speech pipeline")
    parser.add_argument("--config", help="YAML file merged over the defaults (mediagw/default.yaml)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway (HTTP and WebSocket on one port)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    transcribe = commands.add_parser("transcribe", help="transcribe an audio file offline, one JSON line per utterance")
    transcribe.add_argument("file", type=Path)
    transcribe.add_argument("--language", default="en-US", help="en-US (default), es-US...: the model must have it")
    secret = commands.add_parser("hash-secret", help="print the secret_sha256 to configure for an API secret")
    secret.add_argument("secret")
    worker = commands.add_parser("asr-worker", help="decode the cluster's utterances from Redis (asr.backend redis)")
    worker.add_argument("--config", default=argparse.SUPPRESS, help="as the option before the command")
    commands.add_parser("check-config", help="load and validate the configuration, print it as JSON")
    feed = commands.add_parser("export", help="write the utterances feed of a time range (JSON Lines or CSV)")
    feed.add_argument(
        "--from", dest="start", required=True, help="UTC date or date-time, e.g. 2026-11-24 or 2026-11-24T13"
    )
    feed.add_argument("--to", dest="end", required=True, help="end of the range, exclusive")
    feed.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    feed.add_argument("--out", type=Path, required=True)
    redact = commands.add_parser("redact", help="redact stdin, one utterance a line, as one JSON object a line")
    redact.add_argument("--entities", help="'all', or entity ids separated by commas (default: the active set)")
    redact.add_argument("--role", choices=["customer", "agent"], default="customer")
    redact.add_argument("--language", default="en", help="ISO 639-1 code of the text (en, es)")
    args = parser.parse_args(argv)

    if args.command == "hash-secret":
        print(hash_secret(args.secret))
        return 0
    try:
        config = load_config(args.config)
    except (ConfigError, ValueError) as error:
        print(f"mediagw: configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(config.logging.level, config.logging.json)
    if args.command == "check-config":
        print(json.dumps(dataclasses.asdict(config), indent=2))
        return 0
    if args.command == "asr-worker":
        from mediagw.asr_worker import run_worker

        return run_worker(config)
    if args.command == "transcribe":
        return _transcribe(config, args.file, args.language)
    if args.command == "export":
        return _export(config, args.start, args.end, args.format, args.out)
    if args.command == "redact":
        from mediagw.redact_lines import redact_stdin

        return redact_stdin(config, args.entities, args.role, args.language)
    return _serve(config, args.host, args.port)


def _serve(config: Config, host: str | None, port: int | None) -> int:
    host = host or config.server.host
    port = port or config.server.port
    if port != config.server.port:  # the default node_id is hostname:port
        config = dataclasses.replace(config, server=dataclasses.replace(config.server, port=port))
    local_asr = config.asr.enabled and config.asr.backend == "local"
    try:  # before any socket is opened: a model that cannot be loaded stops start-up, named
        recognizer = load_recognizer(config) if local_asr else None
    except ModelNotFound as error:
        print(f"mediagw: ASR model error: {error}", file=sys.stderr)
        return 2
    log.info("mediagw listening on %s:%d (%s loop)", host, port, config.server.event_loop)
    loop = new_event_loop(config.server.event_loop)
    try:
        loop.run_until_complete(_serve_until_signalled(config, host, port, recognizer))
    except (ConfigError, StoreUnavailable, RedisUnavailable) as error:  # found at start-up: store, Redis
        print(f"mediagw: {error}", file=sys.stderr)
        return 2
    finally:
        loop.close()
    return 0


async def _serve_until_signalled(config: Config, host: str, port: int, recognizer: Recognizer | None) -> None:
    """Serve until SIGTERM or SIGINT, then drain before the runner stops reading sockets (mediagw/shutdown.py).

    SIGTERM: drain within server.shutdown_timeout_s. SIGINT, or a second SIGTERM: the deadline is now. A third
    signal, or the watchdog HARD_EXIT_S after the deadline, ends the process whatever still runs."""
    app = build_app(config, recognizer)
    runner = http_runner(app, config, access_log=None)
    await runner.setup()
    try:
        await start_http_site(runner, config, host, port, ssl_context(config))
        signals = _Signals(asyncio.get_running_loop(), config.server.shutdown_timeout_s, lambda: hurry(app))
        first = await signals.first()
        log.info("mediagw shutting down (%s)", first.name)
        await drain(app, immediately=first is signal.SIGINT)
        stuck = abort_connections(runner)
        if stuck:
            log.info("shutdown: %d connection(s) still open were aborted", stuck)
    finally:
        await runner.cleanup()


class _Signals:
    """SIGTERM and SIGINT as a shutdown sees them, with the watchdog that keeps its timeout a promise."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout_s: float, hurry: Callable[[], None]) -> None:
        self._received: list[signal.Signals] = []
        self._first: asyncio.Future[signal.Signals] = loop.create_future()
        self._timeout_s = timeout_s
        self._hurry = hurry
        self._watchdog: threading.Timer | None = None
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._received_signal, signum)

    async def first(self) -> signal.Signals:
        return await self._first

    def _received_signal(self, signum: signal.Signals) -> None:
        self._received.append(signum)
        if len(self._received) == 1:
            immediately = signum is signal.SIGINT
            self._arm(HARD_EXIT_S + (0.0 if immediately else self._timeout_s))
            self._first.set_result(signum)
        elif len(self._received) == 2 or (signum is signal.SIGINT and signal.SIGINT not in self._received[:-1]):
            log.warning("mediagw: %s again: ending now", signum.name)
            self._arm(HARD_EXIT_S)
            self._hurry()
        else:
            _leave(f"{signum.name} a third time")

    def _arm(self, after_s: float) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._watchdog = threading.Timer(after_s, _leave, (f"shutdown still running {after_s:.0f} s after the signal",))
        self._watchdog.daemon = True  # a clean exit does not wait for it; a stuck one (a decode in a thread) does
        self._watchdog.start()


def _leave(why: str) -> None:
    """The promise's last resort: exit now, from any thread (what was committed to the store stays)."""
    log.error("mediagw: exiting at once: %s", why)
    logging.shutdown()
    os._exit(1)


def new_event_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _transcribe(config: Config, path: Path, language: str) -> int:
    from mediagw.offline import transcribe_file

    try:
        recognizer = load_recognizer(config)
    except ModelNotFound as error:
        print(f"mediagw: ASR model error: {error}", file=sys.stderr)
        return 2
    if not supported(language, recognizer.languages):
        print(f"mediagw: the model {recognizer.model_name!r} cannot transcribe {language[:20]!r}", file=sys.stderr)
        return 2
    progress = sys.stderr.isatty()
    for utterance in transcribe_file(path, recognizer, config.segmenter, progress, model_language(language)):
        print(
            json.dumps(
                {
                    "channel": utterance.channel,
                    "start": utterance.start_ms,
                    "end": utterance.end_ms,
                    "text": utterance.text,
                }
            )
        )
    return 0


def _export(config: Config, start: str, end: str, fmt: str, out: Path) -> int:
    from mediagw.outputs.export import parse_instant

    if not config.store.url and not sqlite_path(config).is_file():
        print(f"mediagw: no transcript store at {sqlite_path(config)}", file=sys.stderr)
        return 2
    try:
        count = asyncio.run(_export_through_store(config, parse_instant(start), parse_instant(end), out, fmt))
    except (ValueError, StoreUnavailable) as error:
        print(f"mediagw: {error}", file=sys.stderr)
        return 2
    print(f"exported {count} utterances to {out}", file=sys.stderr)
    return 0


async def _export_through_store(config: Config, start: datetime, end: datetime, out: Path, fmt: str) -> int:
    from mediagw.outputs.export import export

    store = create_store(config)
    await store.open(read_only=True)
    try:
        return await export(store, start, end, out, fmt)
    finally:
        await store.close()


if __name__ == "__main__":
    sys.exit(main())
