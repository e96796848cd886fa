"""Gateway nodes of a cluster for the multi-node tests, each a `mediagw --config FILE serve` process started as the
README's "Running on several machines" says: one Redis (cluster.redis_url), one PostgreSQL (store.url), a shared
auth.token_secret, each node with its own node_id and advertise_url. Secrets stay in the file, off the command
line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.asr_workers import ROOT
from tests.gateway import TEST_BURST_S, free_port, wait_healthy

TOKEN_SECRET = "cluster-token-secret-0123456789abcdef"


def node_config(path: Path, name: str, redis_url: str, store_url: str, **sections: dict[str, Any]) -> Path:
    port, sip_port = free_port(), free_port()
    tree: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": port},
        "cluster": {"redis_url": redis_url, "node_id": name, "advertise_url": f"http://127.0.0.1:{port}"},
        "auth": {"token_secret": TOKEN_SECRET},
        "store": {"url": store_url},
        "siprec": {"host": "127.0.0.1", "port": sip_port},
        "limits": {"realtime_burst_s": TEST_BURST_S},
        "data_dir": str(path.parent / f"{name}-data"),
        "logging": {"level": "INFO"},
    }
    for section, values in sections.items():
        tree[section] = {**tree.get(section, {}), **values}
    path.write_text(yaml.safe_dump(tree))
    return path


class GatewayNode:
    def __init__(self, config: Path, name: str) -> None:
        self.name = name
        self.config = config
        tree = yaml.safe_load(config.read_text())
        self.port = int(tree["server"]["port"])
        self.sip_port = int(tree["siprec"]["port"])
        self.log = config.parent / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def srs(self) -> tuple[str, int]:
        return ("127.0.0.1", self.sip_port)

    def start(self) -> GatewayNode:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mediagw.cli", "--config", str(self.config), "serve"],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        try:
            wait_healthy(self.base_url, timeout_s=120)
        except AssertionError:
            raise AssertionError(f"node {self.name} did not start:\n{self.output()[-3000:]}") from None
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL: the host lost, no clean-up at all."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
