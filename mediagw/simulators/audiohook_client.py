"""The client side of an AudioHook session's messages, sans-I/O: numbering, the position, checks of the server's."""

from __future__ import annotations

import json
from typing import Any

from asr.frame import SAMPLE_RATE

Json = dict[str, Any]


def duration(seconds: float) -> str:
    """An ISO 8601 duration as AudioHook writes them: PT0S, PT0.1S, PT12.34S."""
    return f"PT{f'{seconds:.6f}'.rstrip('0').rstrip('.')}S"


class ClientProtocol:
    """Sans-I/O client side of one session: numbers client messages, checks the server's, keeps the position."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.seq = 0  # of the last client message
        self.serverseq = 0  # of the last server message
        self.samples = 0  # stream position: audio sent plus audio discarded, in 8 kHz samples
        self.problems: list[str] = []

    @property
    def position(self) -> str:
        return duration(self.samples / SAMPLE_RATE)

    def message(self, kind: str, parameters: Json) -> Json:
        self.seq += 1
        return {
            "version": "2",
            "type": kind,
            "seq": self.seq,
            "serverseq": self.serverseq,
            "id": self.session_id,
            "position": self.position,
            "parameters": parameters,
        }

    def receive(self, text: str) -> Json | None:
        """The server message in `text`; None, with a problem noted, if it is not one."""
        try:
            message = json.loads(text)
        except ValueError:
            self.problems.append(f"server text is not JSON: {text[:200]!r}")
            return None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            self.problems.append(f"server message has no type: {text[:200]!r}")
            return None
        kind, seq, clientseq = message["type"], message.get("seq"), message.get("clientseq")
        if seq != self.serverseq + 1:
            self.problems.append(f"{kind}: seq {seq!r} after server seq {self.serverseq}")
        if isinstance(seq, int):
            self.serverseq = seq
        if not isinstance(clientseq, int) or not 0 <= clientseq <= self.seq:
            self.problems.append(f"{kind}: clientseq {clientseq!r} but the client has sent seq {self.seq}")
        if message.get("version") != "2" or message.get("id") != self.session_id:
            self.problems.append(f"{kind}: version {message.get('version')!r}, id {message.get('id')!r}")
        if not isinstance(message.get("parameters"), dict):
            self.problems.append(f"{kind}: parameters is not an object")
            message["parameters"] = {}
        return message
