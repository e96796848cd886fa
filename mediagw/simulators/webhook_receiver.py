"""Real HTTP receivers of webhook POSTs on loopback: healthy, failing, hanging, resetting (tests, benchmarks)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Receiver:
    mode: str = "ok"  # ok, error (500), hang, reset, flaky (500 `flaky_failures` times, then ok), oauth
    flaky_failures: int = 2
    received: list[dict[str, Any]] = field(default_factory=list)
    arrived_at: list[float] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    queries: list[dict[str, str]] = field(default_factory=list)
    tokens_issued: int = 0
    calls: int = 0
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        app.router.add_post("/token", self._token)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "client_credentials" or form.get("client_secret") != "s3cret":
            return web.json_response({"error": "invalid_client"}, status=401)
        self.tokens_issued += 1
        return web.json_response({"access_token": f"token-{self.tokens_issued}", "expires_in": 3600})

    async def _hook(self, request: web.Request) -> web.StreamResponse:
        self.calls += 1
        if self.mode == "hang":
            await asyncio.sleep(3600)
        if self.mode == "reset":
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if self.mode == "error" or (self.mode == "flaky" and self.calls <= self.flaky_failures):
            return web.Response(status=500)
        if self.mode == "oauth" and request.headers.get("Authorization") != f"Bearer token-{self.tokens_issued}":
            return web.Response(status=401)
        if self.mode == "oauth" and self.calls == 2:
            self.tokens_issued += 1  # the receiver rotates its token: the next request gets a 401
        self.received.append(json.loads(await request.read()))
        self.arrived_at.append(time.monotonic())
        self.headers.append(dict(request.headers))
        self.queries.append(dict(request.query))
        return web.Response(status=204)


def main() -> None:
    """Run one receiver until killed: print its URL, then, for each line read on stdin, what has arrived."""
    import sys

    async def serve() -> None:
        receiver = await Receiver(mode=sys.argv[1] if len(sys.argv) > 1 else "ok").start()
        print(receiver.url, flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            if line.strip() == "full":
                print(json.dumps({"messages": receiver.received, "arrived_at": receiver.arrived_at}), flush=True)
                continue
            report = {
                "received": len(receiver.received),
                "arrived_at": receiver.arrived_at,
                "ids": [m.get("n") for m in receiver.received],
            }
            print(json.dumps(report), flush=True)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
