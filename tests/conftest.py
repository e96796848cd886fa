from __future__ import annotations

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
from tests.gateway import GatewayThread, SlowCallbackRecorder, make_config

CALLS = Path(__file__).resolve().parent.parent / "samples" / "calls"


@pytest.fixture(scope="session")
def recognizer() -> Recognizer:
    """The real bundled model, loaded once for the whole run."""
    return load_recognizer(load_config(environ={}))


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

    def start(data_dir: Path | None = None, **sections: dict[str, Any]) -> GatewayThread:
        config = make_config(data_dir or tmp_path / f"data{len(started)}", **sections)
        gateway = GatewayThread(config, recognizer).start()
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
