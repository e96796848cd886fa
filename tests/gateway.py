"""A real gateway on a loopback port, run in its own thread and event loop, for end-to-end tests."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web

from asr.recognizer import Recognizer
from mediagw.api.routes import SERVICES
from mediagw.app import CONNECT, SIPREC, build_app, drain, ssl_context
from mediagw.config import Config, load_config
from mediagw.core.media import CallMedia
from mediagw.core.node import MediaHandle
from mediagw.core.record import ROLES, CallRecord
from mediagw.ingress.kvs.connect import ConnectReaders
from mediagw.ingress.siprec.transport import SiprecServer
from mediagw.listeners import http_runner, start_http_site
from mediagw.services import Services
from tests.loop_stalls import RunQueueSampler
from tests.waits import wait_until

T = TypeVar("T")
API_ID = "local-dev"
API_SECRET = "local-dev-secret"
TEST_BURST_S = 600.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base_url: str, timeout_s: float = 60.0) -> None:
    """Poll /v1/health of a gateway started as a process until it answers 200."""

    def healthy() -> bool:
        with urllib.request.urlopen(f"{base_url}/v1/health", timeout=1) as response:
            return bool(response.status == 200)

    wait_until(healthy, timeout_s=timeout_s, interval_s=0.1, what="gateway healthy")


def make_config(data_dir: Path, **sections: dict[str, Any]) -> Config:
    """The default configuration with some settings of some sections replaced."""
    config = load_config(environ={})
    changes: dict[str, Any] = {"data_dir": str(data_dir)}
    sections = {"siprec": {}, "limits": {}, **sections}
    sections["siprec"] = {"port": 0, **sections["siprec"]}  # any free SIP port: gateways run side by side
    # tests stream whole calls faster than real time: a burst allowance longer than any of them (pacing tests
    # set their own)
    sections["limits"] = {"realtime_burst_s": TEST_BURST_S, **sections["limits"]}
    for name, values in sections.items():
        changes[name] = dataclasses.replace(getattr(config, name), **values)
    return dataclasses.replace(config, **changes)


class GatewayThread:
    def __init__(self, config: Config, recognizer: Recognizer | None, slow_callback_s: float = 0.1) -> None:
        self.config = config
        self._recognizer = recognizer
        self._slow_callback_s = slow_callback_s
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="gateway", daemon=True)
        self.port = 0
        self.app: web.Application | None = None
        self.error: BaseException | None = None

    @property
    def base_url(self) -> str:
        scheme = "https" if self.config.server.tls_cert else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def services(self) -> Services:
        assert self.app is not None
        return self.app[SERVICES]

    @property
    def siprec(self) -> SiprecServer:
        assert self.app is not None
        return self.app[SIPREC]

    @property
    def connect(self) -> ConnectReaders:
        assert self.app is not None
        return self.app[CONNECT]

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the gateway's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(30)

    def attach(self, namespace: str, guid: str, roles: tuple[str, ...] = ROLES) -> MediaHandle:
        """Attach media to a call, as an ingress adapter does (then feed it with `call_soon`)."""
        return self.run(self.services.media.attach(namespace, guid, roles))

    def record(self, namespace: str, guid: str) -> CallRecord | None:
        """The call's record in the registry, read on the gateway's loop."""
        return self.run(self.services.registry.get(namespace, guid))

    def media(self, namespace: str, guid: str) -> CallMedia | None:
        """The call's node media (read from the test's thread: a snapshot of plain attributes)."""
        return self.services.media.get(namespace, guid)

    def start(self) -> GatewayThread:
        self._thread.start()
        if not self._ready.wait(60) or self.error:
            raise RuntimeError(f"gateway did not start: {self.error}")
        return self

    def metric(self, name: str, **labels: str) -> float:
        """A sample of this gateway's Prometheus registry, 0.0 while it has none."""
        return self.services.metrics.registry.get_sample_value(name, labels) or 0.0

    def call_soon(self, work: Any) -> None:
        """Run a plain callable on the gateway's loop (as an ingress adapter would) and wait for it."""
        done = threading.Event()

        def run() -> None:
            try:
                work()
            finally:
                done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(10)

    def stop(self) -> None:
        """Graceful shutdown, as on SIGTERM; blocks until the gateway has cleaned up."""
        if self._thread.is_alive() and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(60)

    def _run(self) -> None:
        self._loop.set_debug(True)
        self._loop.slow_callback_duration = self._slow_callback_s
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as error:  # surfaced to the test through start()
            self.error = error
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        # tells CPU starvation from a blocked loop (tests/loop_stalls.py)
        sampler = asyncio.ensure_future(RunQueueSampler(self._slow_callback_s).run())
        await asyncio.sleep(0)  # its first sample precedes the start-up below, itself one long step
        self.app = build_app(self.config, recognizer=self._recognizer)
        runner = http_runner(self.app, self.config)
        await runner.setup()
        port = urlsplit(self.config.cluster.advertise_url).port or 0  # a cluster node: where the others reach it
        site = await start_http_site(runner, self.config, "127.0.0.1", port, ssl_context(self.config))
        self.port = site.port
        self._ready.set()
        await self._stopped.wait()
        await drain(self.app)  # as `mediagw serve` does on SIGTERM
        await runner.cleanup()
        sampler.cancel()
