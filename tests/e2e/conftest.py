"""Fixtures of the end-to-end tests that more than one file uses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from mediagw.simulators.kvs_endpoint import KvsEndpoint, KvsFragment
from tests.e2e.kvs import fragments
from tests.fixtures.kvs.make_mkv import connect_call
from tests.gateway import free_port


@pytest.fixture(scope="session")
def billing_fragments() -> list[KvsFragment]:
    """billing.flac as Amazon Connect's GetMedia fragments (2 s each)."""
    return fragments(connect_call(None))


@pytest.fixture
async def kvs(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[KvsEndpoint]:
    """A local KVS endpoint at 10x real time; boto3 signs with throwaway keys from the environment."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local-secret")
    endpoint = KvsEndpoint(speed=10.0)
    runner = web.AppRunner(endpoint.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    endpoint.base_url = f"http://127.0.0.1:{port}"
    yield endpoint
    await runner.cleanup()
