"""A Redis server of the tests' own: `redis-server` on a free loopback port in a temporary directory, with a
password (so tests can check it never leaks), stopped at the end. Skipped only where the binary is absent (CI
installs Debian's redis-server)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

from tests.gateway import free_port
from tests.orphans import dies_with_parent
from tests.waits import wait_until

PASSWORD = "r3dis-s3cret"


def server_binary() -> str | None:
    return shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)


class RedisServer:
    def __init__(self, binary: str) -> None:
        self._binary = binary
        self.directory = Path(tempfile.mkdtemp(prefix="mediagw-redis-"))
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0, password: str = PASSWORD) -> str:
        return f"redis://:{password}@127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        """Start (or restart on the same port) and wait until it accepts connections. No persistence: a restart
        starts empty, as a Redis without AOF does."""
        args = [
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--requirepass",
            PASSWORD,
            "--dir",
            str(self.directory),
        ]
        args += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", str(self.directory / "log")]
        command = dies_with_parent([self._binary, *args])
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._accepting, timeout_s=20, interval_s=0.02, what="redis-server accepting connections")
        return self

    def _accepting(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"redis-server exited: {(self.directory / 'log').read_text(errors='replace')[-500:]}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(f"AUTH {PASSWORD}\r\nPING\r\n".encode())
                return b"PONG" in conn.recv(100) or b"PONG" in conn.recv(100)
        except OSError:
            return False

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(10)
        self._process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
