"""aiortc's ICE settings from `webrtc.*`: STUN servers, and the addresses of the gateway's host candidates.

aioice gathers one host candidate per interface address but loopback and offers no setting to choose them. A
gateway with several interfaces (a container's bridge, a VPN) should offer only the one peers reach, and the tests
run on loopback alone; `webrtc.ice_addresses` pins them. aioice looks the addresses up through its module's
`get_host_addresses` when a peer connection gathers: that lookup is wrapped once to read a context variable,
which `pinned_addresses` sets around the gathering (aiortc gathers in tasks copying the caller's context), so
pins never leak between connections or into other code.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

_PINNED: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar("ice_addresses", default=None)
_gather_addresses = aioice.ice.get_host_addresses


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    pinned = _PINNED.get()
    return list(pinned) if pinned is not None else _gather_addresses(use_ipv4, use_ipv6)


aioice.ice.get_host_addresses = _host_addresses  # type: ignore[assignment]  # see the module's docstring


@contextmanager
def pinned_addresses(addresses: Sequence[str]) -> Iterator[None]:
    """Host candidates on `addresses` only for the connections that gather within (empty: aioice's choice)."""
    token = _PINNED.set(tuple(addresses) if addresses else None)
    try:
        yield
    finally:
        _PINNED.reset(token)


def configuration(stun_servers: Sequence[str]) -> RTCConfiguration:
    """No default STUN server: aiortc's is on the internet, and a gateway that is not behind NAT needs none."""
    return RTCConfiguration(iceServers=[RTCIceServer(url) for url in stun_servers])
