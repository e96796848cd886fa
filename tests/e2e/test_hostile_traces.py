"""What a hostile client leaves behind: files only the gateway may read, log lines it cannot forge, no state for a
malformed Twilio start (issue 15.4, 15.6, 15.10)."""

from __future__ import annotations

import io
import json
import logging
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mediagw.logs import ContextFormatter, JsonFormatter
from mediagw.outputs.export import export
from mediagw.outputs.store import SqliteStore
from tests.e2e.hostile import HEADERS, bare_gateways, streaming_url
from tests.gateway import GatewayThread

pytestmark = pytest.mark.e2e


@pytest.fixture
def bare_gateway(tmp_path: Path) -> Iterator[Any]:
    yield from bare_gateways(tmp_path)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_data_directory_and_its_files_are_private(bare_gateway: Any, tmp_path: Path) -> None:
    gateway: GatewayThread = bare_gateway()
    data = Path(gateway.config.data_dir)
    entity = gateway.base_url + "/configuration/v1/redaction-entities/PASSWORD"
    async with aiohttp.ClientSession(headers=HEADERS) as session, session.patch(entity, json={"active": False}) as r:
        assert r.status == 200
    check_private(data)
    out = data / "exports" / "day.csv"
    store = SqliteStore(data / "mediagw.sqlite3")
    await store.open(read_only=True)
    await export(store, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC), out, "csv")
    await store.close()
    assert mode(out) == 0o600 and mode(out.parent) == 0o700


def check_private(data: Path) -> None:
    assert mode(data) == 0o700
    files = sorted(path.name for path in data.iterdir())
    assert {"mediagw.sqlite3", "mediagw.sqlite3-wal", "mediagw.sqlite3-shm"} <= set(files)
    assert {name: mode(data / name) for name in files} == dict.fromkeys(files, 0o600)


@pytest.mark.parametrize("formatter", [ContextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"), None])
async def test_a_forged_line_in_the_url_path_stays_on_its_line(
    bare_gateway: Any, formatter: logging.Formatter | None, caplog: pytest.LogCaptureFixture
) -> None:
    gateway: GatewayThread = bare_gateway()
    caplog.set_level(logging.INFO)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter or JsonFormatter())
    logging.getLogger().addHandler(handler)
    try:
        path = "/configuration/v1/redaction-entities/X%0D%0A2026-01-01%2000:00:00%20INFO%20forged%1B%5B2J%C2%9B"
        async with aiohttp.ClientSession() as session, session.get(gateway.base_url + path) as response:
            assert response.status == 401
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [line for line in out.getvalue().splitlines() if "mediagw.api.errors" in line]  # not the access log
    assert len(lines) == 1 and "\x1b" not in out.getvalue() and "\x9b" not in out.getvalue()
    assert not any(line.startswith("2026-01-01") for line in out.getvalue().splitlines())
    if formatter is None:
        assert "\\x0d\\x0a2026-01-01" in json.loads(lines[0])["msg"]


async def test_a_twilio_start_with_an_oversized_call_sid_is_refused_and_leaves_no_call(bare_gateway: Any) -> None:
    gateway: GatewayThread = bare_gateway()
    start = {"callSid": "CA" + "a" * 60_000, "streamSid": "MZ" + "0" * 32, "tracks": ["inbound"]}
    async with aiohttp.ClientSession() as session:
        url = await streaming_url(session, gateway.base_url, twilio=True)
        async with session.ws_connect(url) as ws:
            await ws.send_str(json.dumps({"event": "start", "start": start}))
            async for _ in ws:
                pass
            assert ws.close_code == 1003
    assert not gateway.record("twilio", start["callSid"])
