"""What the Amazon Connect end-to-end tests share: a stream ARN, GetMedia bytes cut into KVS fragments, requests."""

from __future__ import annotations

from typing import Any

from mediagw.ingress.kvs.mkv import AudioBlock, FragmentTags, MkvReader
from mediagw.ingress.kvs.reader import ReadPosition
from mediagw.simulators.kvs_endpoint import KvsFragment
from tests.gateway import GatewayThread
from tests.waits import eventually

ARN = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/connect-contact-stream/1700000000000"
EBML_MAGIC = b"\x1a\x45\xdf\xa3"


def fragments(data: bytes) -> list[KvsFragment]:
    """The GetMedia stream cut at each fragment's EBML header, numbered from its own Tags."""
    starts = [i for i in range(len(data)) if data.startswith(EBML_MAGIC, i)]
    pieces = [data[a:b] for a, b in zip(starts, [*starts[1:], len(data)], strict=True)]
    out = []
    for piece in pieces:
        tags = [e.tags for e in MkvReader().feed(piece) if isinstance(e, FragmentTags)]
        number = next(t["AWS_KINESISVIDEO_FRAGMENT_NUMBER"] for t in tags if "AWS_KINESISVIDEO_FRAGMENT_NUMBER" in t)
        out.append(KvsFragment(number, piece, 2.0))
    return out


def customer_bytes(sent: list[KvsFragment]) -> int:
    """PCM bytes of the customer track (track 1) in these fragments."""
    return sum(
        len(event.payload)
        for fragment in sent
        for event in MkvReader().feed(fragment.data)
        if isinstance(event, AudioBlock) and event.track == 1
    )


def start_body(contact: str, **params: str) -> dict[str, Any]:
    return {
        "namespace": "amazonconnect",
        "guid": contact,
        "customerId": "c-1",
        "agentId": "a-1",
        "amazonConnectParams": {"streamArn": ARN, "startSelectorType": "NOW", **params},
    }


def stop_body(contact: str) -> dict[str, str]:
    return {"namespace": "amazonconnect", "guid": contact}


async def reader_done(gateway: GatewayThread, contact: str) -> None:
    """Until the call's KVS reader has ended (the stream's end, or given up)."""
    connect = gateway.connect
    await eventually(lambda: not connect.reading(contact), what=f"the KVS reader of {contact} ended")


async def fragment_read(gateway: GatewayThread, contact: str, fragment: KvsFragment) -> None:
    """Until the call's reader has read `fragment` (or a later one) whole."""

    def after() -> int:
        position: ReadPosition | None = gateway.connect.position(contact)
        return int(position.after_fragment or 0) if position is not None else 0

    await eventually(after, lambda n: n >= int(fragment.number), what=f"fragment {fragment.number} read")
