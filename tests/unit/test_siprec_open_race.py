"""A recording that ends while its streams are being opened (a BYE, or timer H after a flood, between two awaits
of `RecordingMedia.open`) gives its ports back without a fault: the open skips what was released."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from mediagw.config import SiprecConfig
from mediagw.ingress.siprec.dialog import Recording
from mediagw.ingress.siprec.media import PortPool
from mediagw.ingress.siprec.offer import StreamPlan
from mediagw.ingress.siprec.recording import RecordingMedia
from mediagw.ingress.siprec.sdp import Codec
from mediagw.ingress.siprec.transactions import Peer
from mediagw.metrics import Metrics
from tests.core import handle

PCMU = Codec(0, "PCMU", 8000)


async def test_ports_released_between_the_rtp_and_rtcp_opens_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    base = random.randrange(40000, 60000, 2)
    ports = PortPool("127.0.0.1", base, base + 9)
    first, second = ports.allocate(), ports.allocate()
    assert first is not None and second is not None
    plans = [StreamPlan(0, "1", first, {0: PCMU}), StreamPlan(1, "2", second, {0: PCMU})]
    recording = Recording(
        "call-1", "a", "b", "sip:src@127.0.0.1", [], "sip:srs", "sip:src", Peer(("127.0.0.1", 5060), "udp"), {}, None,
        plans, 1,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    opened = loop.create_datagram_endpoint

    async def bye_meanwhile(*args: Any, **kwargs: Any) -> Any:
        result = await opened(*args, **kwargs)
        for port in (first, second):  # what the core's _end does when the BYE comes
            ports.release(port)
        recording.ended = True
        return result

    monkeypatch.setattr(loop, "create_datagram_endpoint", bye_meanwhile)
    media = RecordingMedia(handle("siprec", "00002542391662063156"), recording, SiprecConfig(), Metrics())
    await media.open(ports)  # before: OSError (Bad file descriptor) on the released RTCP socket
    assert list(media.receivers) == [0] and ports.in_use == 0
    media.close()
    assert media.receivers == {}
