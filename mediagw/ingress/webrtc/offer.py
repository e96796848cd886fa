"""WHIP's SDP in, checked before aiortc sees it (sans-I/O): an offer's audio sections and codecs, and a trickle
PATCH's candidates. Every refusal says what was wrong, with the HTTP status WHIP answers it with."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mediagw.ingress.webrtc.params import MAX_TRACKS

SUPPORTED_CODECS = ("opus", "PCMU", "PCMA")  # what aiortc decodes for audio
_STATIC = {"0": "PCMU", "8": "PCMA", "9": "G722", "3": "GSM", "18": "G729"}  # payload types with no rtpmap
_LINE = re.compile(r"[a-z]=.*")
_MEDIA = re.compile(r"m=(\S+) (\d+)(?:/\d+)? (\S+)((?: \S+)*)")
_RTPMAP = re.compile(r"a=rtpmap:(\d+) ([^/\s]+)/")


class SdpRefused(ValueError):
    """Input WHIP refuses: `status` is the HTTP answer, the message says why (safe to log and return)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class AudioSection:
    index: int  # the m-line's position in the offer
    mid: str
    codecs: tuple[str, ...]  # the supported codecs it offers, in its order of preference


@dataclass
class _Section:
    kind: str
    port: int
    formats: list[str]
    mid: str = ""
    names: dict[str, str] = field(default_factory=dict)  # payload type -> codec name


@dataclass(frozen=True)
class Offer:
    audio: tuple[AudioSection, ...]
    data_channel: bool
    other: int  # sections neither audio nor a data channel (video): answered inactive
    ice_ufrag: str


def _lines(text: str, what: str) -> list[str]:
    lines = [line.rstrip("\r") for line in text.split("\n") if line.strip()]
    for number, line in enumerate(lines, 1):
        if not _LINE.fullmatch(line):
            raise SdpRefused(400, f"malformed SDP {what}: line {number} is not <type>=<value>")
    return lines


def _sections(lines: list[str]) -> tuple[list[str], list[_Section]]:
    session: list[str] = []
    sections: list[_Section] = []
    for line in lines:
        if line.startswith("m="):
            match = _MEDIA.fullmatch(line)
            if match is None:
                raise SdpRefused(400, "malformed SDP offer: an m= line is not 'm=<media> <port> <proto> <fmt>...'")
            sections.append(_Section(match[1], int(match[2]), match[4].split()))
        elif sections:
            _attribute(sections[-1], line)
        else:
            session.append(line)
    return session, sections


def _attribute(section: _Section, line: str) -> None:
    if line.startswith("a=mid:"):
        section.mid = line[6:].strip()
    elif match := _RTPMAP.match(line):
        section.names[match[1]] = match[2]


def parse_offer(text: str) -> Offer:
    """The offer's audio sections with their supported codecs; SdpRefused for what WHIP cannot take."""
    lines = _lines(text, "offer")
    if not lines or lines[0] != "v=0":
        raise SdpRefused(400, "malformed SDP offer: it must begin with v=0")
    session, sections = _sections(lines)
    if not any(line.startswith("o=") for line in session):
        raise SdpRefused(400, "malformed SDP offer: no o= line")
    if not sections:
        raise SdpRefused(400, "SDP offer has no media section")
    audio = [(i, s) for i, s in enumerate(sections) if s.kind == "audio" and s.port != 0]
    if not audio:
        raise SdpRefused(400, "SDP offer has no audio: offer at least one audio section")
    if len(audio) > MAX_TRACKS:
        raise SdpRefused(400, f"SDP offer has {len(audio)} audio sections: at most {MAX_TRACKS} (customer, agent)")
    found = tuple(AudioSection(i, s.mid or str(i), _supported(s)) for i, s in audio)
    for section, (_, raw) in zip(found, audio, strict=True):
        if not section.codecs:
            offered = ", ".join(dict.fromkeys(_name(raw, f) for f in raw.formats)) or "none"
            raise SdpRefused(
                400, f"no supported audio codec offered ({', '.join(SUPPORTED_CODECS)}); offered: {offered[:200]}"
            )
    if not any(line.startswith("a=fingerprint:") for line in lines):
        raise SdpRefused(400, "SDP offer has no DTLS fingerprint (a=fingerprint): WebRTC media is DTLS-SRTP")
    ufrags = {line[12:].strip() for line in lines if line.startswith("a=ice-ufrag:")}
    if not ufrags or not any(line.startswith("a=ice-pwd:") for line in lines):
        raise SdpRefused(400, "SDP offer has no ICE credentials (a=ice-ufrag, a=ice-pwd)")
    data = any(s.kind == "application" and s.port != 0 for s in sections)
    other = sum(1 for s in sections if s.kind not in ("audio", "application") and s.port != 0)
    return Offer(found, data, other, sorted(ufrags)[0])


def _name(section: _Section, fmt: str) -> str:
    return section.names.get(fmt) or _STATIC.get(fmt, f"payload type {fmt}")


def _supported(section: _Section) -> tuple[str, ...]:
    wanted = {codec.lower(): codec for codec in SUPPORTED_CODECS}
    names = (_name(section, f).lower() for f in section.formats)
    return tuple(dict.fromkeys(wanted[name] for name in names if name in wanted))


@dataclass(frozen=True)
class Trickle:
    """A trickle PATCH (application/trickle-ice-sdpfrag): candidates by the mid of their section."""

    ice_ufrag: str
    candidates: tuple[tuple[str, str], ...]  # (mid, the candidate attribute's value)
    end_of_candidates: bool


def parse_trickle(text: str, session_ufrag: str) -> Trickle:
    """SdpRefused 400 for a malformed fragment, 422 for an ICE restart (new credentials): aiortc has none."""
    lines = _lines(text, "fragment")
    ufrags = {line[12:].strip() for line in lines if line.startswith("a=ice-ufrag:")}
    if ufrags - {session_ufrag}:
        raise SdpRefused(422, "ICE restarts are not supported: PATCH with the session's ice-ufrag, or start anew")
    mid, candidates, end = "0", [], False
    for line in lines:
        if line.startswith("a=mid:"):
            mid = line[6:].strip()
        elif line.startswith("a=candidate:"):
            candidates.append((mid, line[2:]))
        elif line == "a=end-of-candidates":
            end = True
    if not candidates and not end:
        raise SdpRefused(400, "trickle fragment has no a=candidate and no a=end-of-candidates")
    return Trickle(session_ufrag, tuple(candidates), end)
