"""`mediagw asr-worker` processes for the remote ASR tests, started with the documented command and a config file
(the Redis URL, with its password, stays out of the command line)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from tests.orphans import dies_with_parent

ROOT = Path(__file__).resolve().parent.parent


def write_config(path: Path, redis_url: str, **asr: object) -> Path:
    remote = {"visibility_timeout_s": 2, "heartbeat_s": 0.2, **asr.pop("remote", {})}  # type: ignore[dict-item]
    tree = {
        "cluster": {"redis_url": redis_url},
        "auth": {"token_secret": "a-cluster-wide-test-secret"},  # a gateway in a cluster refuses to start without
        "asr": {"backend": "redis", "remote": remote, **asr},
        "data_dir": str(path.parent / "worker-data"),
        "logging": {"level": "INFO"},
    }
    path.write_text(yaml.safe_dump(tree))
    return path


class AsrWorkerProcess:
    def __init__(self, config: Path, name: str) -> None:
        self.log = config.parent / f"{name}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                dies_with_parent([sys.executable, "-m", "mediagw.cli", "asr-worker", "--config", str(config)]),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as a host lost or an OOM kill."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode
