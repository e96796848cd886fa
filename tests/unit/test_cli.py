"""The `mediagw` command as a newcomer runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from mediagw.evaluation import word_error_rate
from tests.conftest import CALLS
from tests.gateway import free_port
from tests.waits import wait_until

MEDIAGW = [sys.executable, "-m", "mediagw.cli"]


def test_serve_starts_healthy_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "MEDIAGW_DATA_DIR": str(tmp_path / "data"), "MEDIAGW_LOGGING__JSON": "true"}
    env["MEDIAGW_SIPREC__PORT"] = "0"
    server = subprocess.Popen(
        [*MEDIAGW, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True
    )
    try:

        def health() -> Any:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=1) as response:
                return json.loads(response.read())

        assert wait_until(health, interval_s=0.1, what="/v1/health answered")["healthCheck"] == "SUCCESS"
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    assert server.returncode == 0
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any("listening" in line["msg"] and "(uvloop loop)" in line["msg"] for line in lines)
    assert (tmp_path / "data").is_dir()


def test_transcribe_prints_one_json_line_per_utterance(tmp_path: Path) -> None:
    audio, rate = sf.read(CALLS / "billing.flac", dtype="int16")
    short = tmp_path / "short.wav"
    sf.write(short, np.ascontiguousarray(audio[: int(6.5 * rate)]), rate)
    out = subprocess.run([*MEDIAGW, "transcribe", str(short)], capture_output=True, text=True, timeout=120, check=True)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["channel"] for line in lines] == [1]
    greeting = json.loads((CALLS / "billing.json").read_text())["utterances"][0]  # the agent's, on channel 1
    assert word_error_rate([greeting["text"]], [lines[0]["text"]]) <= 0.25


def test_transcribe_refuses_a_language_the_model_cannot_do(tmp_path: Path) -> None:
    out = subprocess.run(
        [*MEDIAGW, "transcribe", "--language", "es-US", str(CALLS / "billing.flac")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MEDIAGW_DATA_DIR": str(tmp_path)},
    )
    assert out.returncode == 2 and "cannot transcribe 'es-US'" in out.stderr and out.stdout == ""


def test_hash_secret_and_config_errors() -> None:
    out = subprocess.run([*MEDIAGW, "hash-secret", "local-dev-secret"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "eb26d4a9a0ef04727f52fb5acc8936196ae90e23003fc5117ce8e3e28c49363f"
    bad = subprocess.run(
        [*MEDIAGW, "check-config"], capture_output=True, text=True, env={**os.environ, "MEDIAGW_SERVER__PORT": "x"}
    )
    assert bad.returncode == 2 and "server.port must be int" in bad.stderr
