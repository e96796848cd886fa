"""SIPREC against independent peers: sipp scenarios (samples/siprec/sipp) and the pjsua2 SRC simulator."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import soundfile as sf

from mediagw.evaluation import word_error_rate
from tests.e2e.api import by_start, control, messages
from tests.e2e.test_siprec import srs_address
from tests.gateway import GatewayThread, free_port
from tests.waits import eventually

SIPP = shutil.which("sipp")
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "siprec"
needs_sipp = pytest.mark.skipif(SIPP is None, reason="sipp (Debian sip-tester) is not installed")
pytestmark = [pytest.mark.e2e, pytest.mark.peers]  # slow: `-m "not peers"` leaves them out of a local run


def sipp(
    scenario: Path, port: int, transport: str, *extra: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    assert SIPP is not None
    command = [SIPP, "-sf", str(scenario), "-s", "srs", "-m", "1", "-t", transport, "-p", str(free_port())]
    command += ["-timeout", f"{int(timeout)}s", "-timeout_error", "-nostdin", *extra, f"127.0.0.1:{port}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout + 30, cwd=scenario.parent)


@needs_sipp
@pytest.mark.parametrize("transport", ["u1", "t1"])
@pytest.mark.parametrize("scenario", ["options", "unsupported", "no_codec", "bad_body"])
def test_sipp_scenarios_get_their_sip_answers(gateway: GatewayThread, scenario: str, transport: str) -> None:
    """OPTIONS 200, Require: foo 420 with Unsupported, only G.722 488, text/plain 415 with Accept."""
    done = sipp(SAMPLES / "sipp" / f"siprec_{scenario}.xml", srs_address(gateway)[1], transport, timeout=20)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


async def test_sipp_call_with_rtp_from_a_capture_is_transcribed(
    gateway: GatewayThread, call_audio: Any, tmp_path: Path
) -> None:
    if SIPP is None:
        pytest.skip("sipp (Debian sip-tester) is not installed")
    make_pcaps = _load(SAMPLES / "make_pcaps.py")
    channels, script = call_audio["billing"]
    customer = channels[script["channels"].index("customer")]
    seconds = 21  # two customer utterances
    (tmp_path / "sipp").mkdir()
    (tmp_path / "pcap").mkdir()
    scenario = tmp_path / "sipp" / "siprec_uac.xml"
    shutil.copy(SAMPLES / "sipp" / "siprec_uac.xml", scenario)
    shutil.copy(SAMPLES / "sipp" / "calls.csv", tmp_path / "sipp" / "calls.csv")
    packets = list(make_pcaps.stream_packets(customer[: seconds * 8000], "pcmu", "customer", make_pcaps.BASE_PORT))
    make_pcaps.write_pcap(tmp_path / "pcap" / "billing-customer-pcmu.pcap", packets)
    guid = "00002542391662063156"  # the first line of calls.csv
    port = srs_address(gateway)[1]
    async with aiohttp.ClientSession() as session:
        run = asyncio.create_task(
            asyncio.to_thread(
                sipp, scenario, port, "u1", "-inf", str(tmp_path / "sipp" / "calls.csv"), "-d", str(seconds * 1000)
            )
        )
        start = {"namespace": "siprec", "guid": guid, "customerId": "c", "agentId": "a"}
        assert (await _start_when_known(session, gateway, start))["status"] == 200
        done = await run
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        stopped = await _stop_after_bye(session, gateway, guid)
        stored = await messages(session, gateway, guid)
    said = [u for u in script["utterances"] if u["role"] == "customer" and u["end"] < seconds * 1000]
    assert stopped["status"] == 200 and stored, stopped
    assert {m["sender"]["role"] for m in stored} == {"customer"}  # sipp plays the first m-line only
    texts = [m["text"] for m in by_start(stored)]
    assert len(said) == 2 and word_error_rate([u["text"] for u in said], texts[: len(said)]) <= 0.3


@pytest.mark.skipif(importlib.util.find_spec("pjsua2") is None, reason="pjsua2-python is not installed")
async def test_pjsua2_src_call_over_tcp_is_transcribed_for_both_participants(
    gateway: GatewayThread, call_audio: Any, tmp_path: Path
) -> None:
    from mediagw.simulators.siprec_src import place_call

    channels, script = call_audio["billing"]
    order = [script["channels"].index("customer"), script["channels"].index("agent")]
    seconds = 15
    wav = tmp_path / "call.wav"
    sf.write(wav, np.stack([channels[i][: seconds * 8000] for i in order], axis=1), 8000)
    guid = "00002542391662063158"
    uri = f"sip:127.0.0.1:{srs_address(gateway)[1]}"
    async with aiohttp.ClientSession() as session:
        call = asyncio.create_task(asyncio.to_thread(place_call, uri, wav, guid=guid, transport="tcp", timeout_s=60))
        start = {"namespace": "siprec", "guid": guid, "customerId": "c", "agentId": "a"}
        assert (await _start_when_known(session, gateway, start))["status"] == 200
        result = await call
        assert result.error is None and result.invite_status == 200 and result.bye_status == 200, result
        stopped = await _stop_after_bye(session, gateway, guid)
        stored = await messages(session, gateway, guid)
    assert stopped["status"] == 200
    said = [u for u in script["utterances"] if u["end"] < seconds * 1000 - 500]
    roles = {m["sender"]["role"] for m in stored}
    assert roles == {"customer", "agent"}
    by_time = by_start(stored)
    assert word_error_rate([u["text"] for u in said], [m["text"] for m in by_time][: len(said)]) <= 0.25


async def _stop_after_bye(session: aiohttp.ClientSession, gateway: GatewayThread, guid: str) -> Any:
    """stop-streaming once the BYE's last utterances are out (409-203 while they are, as the reference says)."""
    return await eventually(
        lambda: control(session, gateway, "stop", {"namespace": "siprec", "guid": guid}),
        lambda a: a["status"] == 200 or a["error"]["code"] != "409-203",
        interval_s=0.05,
    )


async def _start_when_known(session: aiohttp.ClientSession, gateway: GatewayThread, body: dict[str, Any]) -> Any:
    """start-streaming as soon as the INVITE has made the call known (400-203 until then)."""
    return await eventually(
        lambda: control(session, gateway, "start", body), lambda a: a["status"] != 400, interval_s=0.05
    )


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
