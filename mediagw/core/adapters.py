"""What an ingress adapter registers at start-up: its namespace, how its calls are named, its typed
start-streaming parameters and its hooks. The core and the control API know adapters only through this."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from mediagw.core.media import CallMedia
from mediagw.core.record import AdapterParams

MediaHook = Callable[[CallMedia], Awaitable[None]]


class ParamsInvalid(ValueError):
    """An adapter's start-streaming parameters are malformed (the message says how; answered 400-201)."""


@dataclass(frozen=True)
class Namespace:
    name: str
    valid_guid: Callable[[str], bool]  # what start/stop-streaming accept as this namespace's call id
    params_key: str = ""  # the start-streaming object holding its parameters (twilioParams...); "" none
    parse_params: Callable[[Any], AdapterParams] | None = None  # raises ParamsInvalid; reads its own to_json
    params_required: bool = False  # a start of this namespace must carry them (amazonConnectParams)
    controlled: bool = True  # named by start/stop-streaming (the direct API's own streams are not)
    start_grace_s: float = 0.0  # a start before the media connected waits this long for it (Twilio)
    resumable: bool = True  # a call whose media went lingers (limits.call_linger_s) for a new source
    pull: Callable[[str], Awaitable[None]] | None = None  # media pulled once started: attach it (Amazon Connect)
    on_start: MediaHook | None = None  # after the streams opened (Amazon Connect starts its reader)
    on_stop: MediaHook | None = None  # before the streams flush (Amazon Connect stops it)


class IngressRunner(Protocol):
    """Ingress that is no HTTP route (SIPREC's sockets, Amazon Connect's readers), for drain and shutdown."""

    @property
    def in_progress(self) -> int:
        """Calls in progress a drain waits for."""

    def drain(self) -> None:
        """Refuse new work from now on."""

    async def close(self) -> None: ...


class Namespaces:
    """The registered adapters' namespaces, in registration order."""

    def __init__(self) -> None:
        self._by_name: dict[str, Namespace] = {}

    def register(self, namespace: Namespace) -> None:
        self._by_name[namespace.name] = namespace

    def get(self, name: str) -> Namespace:
        return self._by_name[name]

    @property
    def controlled(self) -> tuple[str, ...]:
        return tuple(name for name, each in self._by_name.items() if each.controlled)

    def parse_params(self, namespace: str, body: Mapping[str, Any]) -> AdapterParams | None:
        """Every adapter's parameters present in a start are checked (ParamsInvalid); the call's own are kept."""
        own: AdapterParams | None = None
        for each in self._by_name.values():
            if not each.params_key or each.parse_params is None:
                continue
            raw = body.get(each.params_key)
            if raw is None and not (each.params_required and each.name == namespace):
                continue
            params = each.parse_params(raw)
            if each.name == namespace:
                own = params
        return own

    def decode_params(self, namespace: str, data: Mapping[str, Any]) -> AdapterParams | None:
        """A record's parameters read back from JSON (a shared registry)."""
        parse = self._by_name[namespace].parse_params if namespace in self._by_name else None
        return parse(data) if parse is not None else None
