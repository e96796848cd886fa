"""A SIPREC recording client (SRC, as an SBC) on pjsua2: one call, two sendonly audio streams, metadata, BYE.

    python -m mediagw.simulators.siprec_src --srs sip:127.0.0.1:5070 --transport udp \\
        --ucid 00002542391662063156 samples/calls/billing.flac

The INVITE carries `Require: siprec`, a Contact with `+sip.src`, `X-UCID` (plus `User-to-User` when the id is
an Avaya UCID, `Cisco-Guid` when it is a Cisco GUID) and a multipart/mixed body: RFC 7865 metadata with an
Acme Packet `apkt:ucid` extension, then the SDP that pjsua makes. Its two m=audio lines are sendonly (pjsua's
media direction setting) and get `a=label:1` / `a=label:2` (added to pjsua's SDP before it is sent). Channel 0
of the sound file (customer) feeds the first m-line, channel 1 (agent) the second; `--agent-first` swaps them.
Audio plays in real time; `--hold-after` puts both streams on hold (a=inactive) for `--hold-for` seconds.

`place_call` runs the call in a child process (`python -m mediagw.simulators.siprec_src --json`): pjsua2 allows
one library instance per process, its objects must be destroyed in order on the thread that created them (or
it aborts the process), and a child keeps that away from the caller's event loop and threads.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

log = logging.getLogger(__name__)
SAMPLE_RATE = 8000
FRAME = 160  # samples in 20 ms
HOLD_S = 2.0
_CODECS = {"PCMU/8000/1": 255, "PCMA/8000/1": 254}  # every other codec is disabled


@dataclass
class CallResult:
    """Final SIP status of each transaction the SRC started; None where no final response came."""

    invite_status: int | None = None
    reinvite_statuses: list[int] = field(default_factory=list)
    bye_status: int | None = None
    call_id: str = ""
    packets_sent: list[int] = field(default_factory=list)  # RTP packets per m-line
    invite: str = ""  # the initial INVITE as sent
    error: str | None = None


def avaya_uui(ucid: str) -> str | None:
    """User-to-User hex of a 20-digit Avaya UCID: 00 FA 08, then node (5 digits), sequence (5), time (10)."""
    if not re.fullmatch(r"\d{20}", ucid):
        return None
    node, sequence, seconds = int(ucid[:5]), int(ucid[5:10]), int(ucid[10:])
    if node > 0xFFFF or sequence > 0xFFFF or seconds > 0xFFFFFFFF:
        return None
    return f"00FA08{node:04X}{sequence:04X}{seconds:08X}"


def id_headers(guid: str) -> dict[str, str]:
    headers = {"X-UCID": guid}
    if uui := avaya_uui(guid):
        headers["User-to-User"] = f"{uui};encoding=hex"
    if re.fullmatch(r"\d{10}-\d{10}-\d{10}-\d{10}", guid):
        headers["Cisco-Guid"] = guid
    return headers


def metadata_xml(guid: str, agent_first: bool) -> str:
    """RFC 7865 recording metadata: customer (tel) and agent (sip) each send the stream of their m-line label."""
    labels = {"customer": "2" if agent_first else "1", "agent": "1" if agent_first else "2"}
    uui = avaya_uui(guid)
    extension = (
        '<extensiondata xmlns:apkt="http://acmepacket.com/siprec/extensiondata">'
        f"<apkt:ucid>{uui};encoding=hex</apkt:ucid><apkt:callerOrig>true</apkt:callerOrig></extensiondata>"
        if uui
        else ""
    )
    aors = {"customer": "tel:+15555550100", "agent": "sip:agent1001@contact-center.example.com"}
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<recording xmlns="urn:ietf:params:xml:ns:recording:1">',
        "<datamode>complete</datamode>",
        f'<session session_id="c2Vzc2lvbg==">{extension}</session>',
    ]
    for role in ("customer", "agent"):
        parts.append(f'<participant participant_id="{role}"><nameID aor="{aors[role]}"/></participant>')
    for role in ("customer", "agent"):
        parts.append(
            f'<stream stream_id="{role}-stream" session_id="c2Vzc2lvbg=="><label>{labels[role]}</label></stream>'
        )
    for role, other in (("customer", "agent"), ("agent", "customer")):
        parts.append(
            f'<participantstreamassoc participant_id="{role}">'
            f"<send>{role}-stream</send><recv>{other}-stream</recv></participantstreamassoc>"
        )
    parts.append("</recording>")
    return "\r\n".join(parts) + "\r\n"


def label_media(sdp: str) -> str:
    """Add a=label:<n> (n = 1, 2, ... in m-line order) to every m= section that has none."""
    sections = re.split(r"(?=^m=)", sdp, flags=re.M)
    out = [sections[0]]
    for number, section in enumerate(sections[1:], start=1):
        if not re.search(r"^a=label:", section, re.M):
            section = section.rstrip("\r\n") + f"\r\na=label:{number}\r\n"
        out.append(section)
    return "".join(out)


def split_channels(path: Path, folder: Path) -> list[Path]:
    """Channel 0 and 1 of a sound file as 8 kHz 16-bit mono WAVs (AudioMediaPlayer plays WAV only)."""
    audio, rate = sf.read(str(path), dtype="int16", always_2d=True)
    if rate != SAMPLE_RATE:
        import soxr

        audio = soxr.resample(audio, rate, SAMPLE_RATE, "HQ").astype(np.int16)
    if audio.shape[1] < 2:
        raise ValueError(f"{path}: needs two channels (customer, agent), has {audio.shape[1]}")
    paths = [folder / f"channel{c}.wav" for c in (0, 1)]
    for channel, wav in enumerate(paths):
        sf.write(str(wav), audio[:, channel], SAMPLE_RATE, subtype="PCM_16")
    return paths


def local_address(host: str, port: int) -> str:
    """The address this machine sends from to reach host (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((host, port))
        return str(probe.getsockname()[0])


def read_log(text: str) -> CallResult:
    """Final responses and the first INVITE from pjsua's message log (a BYE's answer comes after the call ends)."""
    result = CallResult()
    invite = re.search(r"TX \d+ bytes Request msg INVITE/cseq=\d+ \([^)]*\) to [^\n]*:\n(.*?)\n--end msg--", text, re.S)
    if invite:
        result.invite = invite.group(1)
        if call_id := re.search(r"^Call-ID: *(\S+)", result.invite, re.M):
            result.call_id = call_id.group(1)
    finals: dict[tuple[str, int], int] = {}
    for status, method, cseq in re.findall(r"RX \d+ bytes Response msg (\d+)/(\w+)/cseq=(\d+)", text):
        if int(status) >= 200:
            finals.setdefault((method, int(cseq)), int(status))
    invites = [finals[key] for key in sorted(finals) if key[0] == "INVITE"]
    result.invite_status = invites[0] if invites else None
    result.reinvite_statuses = invites[1:]
    byes = [finals[key] for key in sorted(finals) if key[0] == "BYE"]
    result.bye_status = byes[0] if byes else None
    return result


@dataclass
class SrcOptions:
    srs_uri: str
    guid: str
    transport: str = "udp"
    agent_first: bool = False
    hold_after_s: float | None = None
    hold_s: float = HOLD_S
    timeout_s: float = 60.0
    verbose: bool = False


def run_call(options: SrcOptions, sound_file: Path) -> CallResult:
    """Place the call in this process, on this thread (pjsua2 must be created, used and destroyed on one thread)."""
    with tempfile.TemporaryDirectory(prefix="siprec-src-") as folder:
        wavs = split_channels(sound_file, Path(folder))
        if options.agent_first:
            wavs.reverse()
        log = Path(folder) / "pjsua.log"
        packets, error = _Session(options, log).run(wavs)
        result = read_log(log.read_text(errors="replace") if log.exists() else "")
    result.packets_sent, result.error = packets, error
    return result


class _Session:
    """One pjsua2 library instance, account and call; polled from the thread that created it."""

    def __init__(self, options: SrcOptions, log: Path) -> None:
        import pjsua2 as pj

        self.pj, self.options = pj, options
        self.players: list[Any] = []  # one AudioMediaPlayer per m-line
        self.lengths: list[int] = []  # samples in each player's file
        self.furthest: list[int] = []  # the furthest position each player reached
        host, port = _host_port(options.srs_uri)
        self.local_ip = local_address(host, port)
        self.ep = pj.Endpoint()
        with _stdout_to_stderr():  # libCreate logs a few lines to stdout before any log setting applies
            self.ep.libCreate()
        config = pj.EpConfig()
        config.uaConfig.threadCnt = 0  # callbacks only inside libHandleEvents, on this thread
        config.uaConfig.mainThreadOnly = True
        config.uaConfig.userAgent = "mediagw-siprec-src"
        config.logConfig.level = 4  # level 4 logs every SIP message
        config.logConfig.consoleLevel = 4 if options.verbose else 0
        config.logConfig.filename = str(log)
        config.medConfig.noVad = True
        config.medConfig.clockRate = SAMPLE_RATE
        config.medConfig.sndClockRate = SAMPLE_RATE
        self.ep.libInit(config)

    def run(self, wavs: list[Path]) -> tuple[list[int], str | None]:
        """RTP packets sent per m-line and the error that ended the call early, if any."""
        pj, ep = self.pj, self.ep
        try:
            kind = pj.PJSIP_TRANSPORT_TCP if self.options.transport == "tcp" else pj.PJSIP_TRANSPORT_UDP
            transport = pj.TransportConfig()
            transport.boundAddress = transport.publicAddress = self.local_ip
            transport_id = ep.transportCreate(kind, transport)
            ep.libStart()
            ep.audDevManager().setNullDev()
            for codec in ep.codecEnum2():
                ep.codecSetPriority(codec.codecId, _CODECS.get(codec.codecId, 0))
            account = pj.Account()
            account.create(self._account_config(transport_id))
            try:
                return self._call(account, wavs), None
            finally:
                account.shutdown()
        except Exception as exc:  # a pjsua2 Error or a timeout: reported beside what the log shows
            return [], _describe(exc)
        finally:
            gc.collect()  # the call and the players must be gone before libDestroy, or their destructors abort
            ep.libDestroy()

    def _account_config(self, transport_id: int) -> Any:
        config = self.pj.AccountConfig()
        config.idUri = f"sip:src@{self.local_ip}"
        config.sipConfig.contactParams = ";+sip.src"
        config.sipConfig.transportId = transport_id
        config.natConfig.sipOutboundUse = 0
        config.mediaConfig.transportConfig.boundAddress = self.local_ip
        return config

    def _call(self, account: Any, wavs: list[Path]) -> list[int]:
        pj, options = self.pj, self.options
        call = _make_call_class(pj)(account)
        self.players = call.players = [pj.AudioMediaPlayer() for _ in wavs]
        self.lengths, self.furthest = [sf.info(str(wav)).frames for wav in wavs], [0 for _ in wavs]
        for player, wav in zip(self.players, wavs, strict=True):
            player.createPlayer(str(wav), pj.PJMEDIA_FILE_NO_LOOP)  # advances only while connected to a stream
        try:
            call.makeCall(_target(options), self._invite_param())
            self._until(lambda: call.state in ("CONFIRMED", "DISCONNECTED"), options.timeout_s, "answer")
            if call.state != "CONFIRMED":
                return []
            self._until(lambda: _sending_audio(pj, call) == 2, 5.0, "media")
            sent = self._play(call)
            call.hangup(pj.CallOpParam(True))
            self._until(lambda: call.state == "DISCONNECTED", options.timeout_s, "disconnect")
            self._pump(1.0)  # the BYE's final response, logged after the call is gone
            return sent
        finally:
            self.players.clear()  # drop the pjsua2 objects before libDestroy, or their destructors abort
            call = None

    def _play(self, call: Any) -> list[int]:
        """Play both files to their end, holding once if asked; returns RTP packets sent per m-line (approximate:
        pjsua restarts its counters when a re-INVITE renews the streams)."""
        pj, hold_after = self.pj, self.options.hold_after_s
        sent = [0, 0]
        if hold_after is not None:
            self._pump(hold_after)
            for direction, wait in ((pj.PJMEDIA_DIR_NONE, self.options.hold_s), (pj.PJMEDIA_DIR_ENCODING, 0.0)):
                sent = [a + b for a, b in zip(sent, _packets_sent(call), strict=True)]
                param = pj.CallOpParam(True)
                _set_directions(pj, param, direction)  # NONE: a=inactive (hold), ENCODING: a=sendonly
                call.reinvite(param)
                self._pump(wait)
        self._until(self._played, max(self.lengths) / SAMPLE_RATE + self.options.timeout_s, "end of audio")
        self._pump(0.2)
        return [a + b for a, b in zip(sent, _packets_sent(call), strict=True)]

    def _invite_param(self) -> Any:
        pj = self.pj
        param = pj.CallOpParam(True)
        _set_directions(pj, param, pj.PJMEDIA_DIR_ENCODING)  # pjsua writes a=sendonly
        option = pj.SipTxOption()
        for name, value in {"Require": "siprec", **id_headers(self.options.guid)}.items():
            option.headers.append(_header(pj, name, value))
        option.multipartContentType.type, option.multipartContentType.subType = "multipart", "mixed"
        part = pj.SipMultipartPart()  # pjsua adds its SDP as the last part
        part.contentType.type, part.contentType.subType = "application", "rs-metadata+xml"
        part.headers.append(_header(pj, "Content-Disposition", "recording-session"))
        part.body = metadata_xml(self.options.guid, self.options.agent_first)
        option.multipartParts.append(part)
        param.txOption = option
        return param

    def _handle_events(self) -> None:
        self.ep.libHandleEvents(10)
        for index, player in enumerate(self.players):  # a player that reaches its end goes back to position 0
            position = player.getPos()
            ended = position < self.furthest[index]
            self.furthest[index] = self.lengths[index] if ended else max(self.furthest[index], position)

    def _played(self) -> bool:
        return all(furthest >= length - FRAME for furthest, length in zip(self.furthest, self.lengths, strict=True))

    def _pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._handle_events()

    def _until(self, done: Callable[[], bool], timeout_s: float, what: str) -> None:
        end = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > end:
                raise TimeoutError(f"no {what} within {timeout_s:g} s")
            self._handle_events()


def _make_call_class(pj: Any) -> Any:
    class SrcCall(pj.Call):  # type: ignore[misc,name-defined]
        state = "NULL"
        players: list[Any] = []

        def onCallState(self, prm: Any) -> None:
            self.state = self.getInfo().stateText

        def onCallSdpCreated(self, prm: Any) -> None:
            prm.sdp.wholeSdp = label_media(prm.sdp.wholeSdp)

        def onCallMediaState(self, prm: Any) -> None:
            """(Re)connect each file to its stream: an offer/answer may renew the stream and its bridge port."""
            try:
                info = self.getInfo()  # keep it: info.media points into it
                for media in info.media:
                    if media.index < len(self.players) and _is_sending(pj, media):
                        self.players[media.index].startTransmit(self.getAudioMedia(media.index))
            except pj.Error as error:  # never raise into pjsua: the call's log shows what followed
                log.warning("siprec_src: cannot connect audio: %s", _describe(error))

    return SrcCall


def _set_directions(pj: Any, param: Any, direction: int) -> None:
    param.opt.audioCount, param.opt.videoCount = 2, 0
    param.opt.flag |= pj.PJSUA_CALL_SET_MEDIA_DIR
    directions = pj.IntVector()
    for _ in range(2):
        directions.append(direction)
    param.opt.mediaDir = directions


def _header(pj: Any, name: str, value: str) -> Any:
    header = pj.SipHeader()
    header.hName, header.hValue = name, value
    return header


def _packets_sent(call: Any) -> list[int]:
    stats = [call.getStreamStat(index) for index in range(2)]  # kept: .rtcp points into each
    return [int(stat.rtcp.txStat.pkt) for stat in stats]


def _is_sending(pj: Any, media: Any) -> bool:
    """pjsua reports a sendonly stream as local hold."""
    sending = (pj.PJSUA_CALL_MEDIA_ACTIVE, pj.PJSUA_CALL_MEDIA_LOCAL_HOLD)
    return media.type == pj.PJMEDIA_TYPE_AUDIO and media.status in sending and bool(media.dir & pj.PJMEDIA_DIR_ENCODING)


def _sending_audio(pj: Any, call: Any) -> int:
    info = call.getInfo()  # keep it: info.media points into it
    return sum(_is_sending(pj, media) for media in info.media)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _describe(exc: Exception) -> str:
    """A pjsua2 Error carries title and reason; anything else its message."""
    parts = [str(getattr(exc, name, "")) for name in ("title", "reason")]
    return ": ".join(p for p in parts if p) or f"{type(exc).__name__}: {exc}"


def _host_port(uri: str) -> tuple[str, int]:
    match = re.match(r"sips?:(?:[^@;]*@)?(\[[^\]]+\]|[^:;>]+)(?::(\d+))?", uri)
    if not match:
        raise ValueError(f"not a SIP URI: {uri}")
    return match.group(1).strip("[]"), int(match.group(2) or 5060)


def _target(options: SrcOptions) -> str:
    if options.transport == "tcp" and "transport=" not in options.srs_uri:
        return f"{options.srs_uri};transport=tcp"
    return options.srs_uri


def place_call(
    srs_uri: str,
    wav: Path,
    *,
    guid: str,
    transport: str = "udp",
    agent_first: bool = False,
    hold_after_s: float | None = None,
    timeout_s: float = 60,
) -> CallResult:
    """Place one SIPREC call from a child process; `wav` is the two-channel (customer, agent) sound file."""
    command = [sys.executable, "-m", "mediagw.simulators.siprec_src", "--json", "--srs", srs_uri]
    command += ["--transport", transport, "--ucid", guid, "--timeout", str(timeout_s), str(wav)]
    if agent_first:
        command.append("--agent-first")
    if hold_after_s is not None:
        command += ["--hold-after", str(hold_after_s)]
    duration = sf.info(str(wav)).duration
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s * 2 + duration + 30)
    lines = done.stdout.strip().splitlines()
    if done.returncode not in (0, 1) or not lines:
        return CallResult(error=f"simulator exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return CallResult(**json.loads(lines[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path, help="two-channel sound file: channel 0 customer, channel 1 agent")
    parser.add_argument("--srs", default="sip:127.0.0.1:5070", help="recording server URI")
    parser.add_argument("--transport", choices=["udp", "tcp"], default="udp")
    parser.add_argument("--ucid", default="00002542391662063156", help="call id: X-UCID (and UUI/Cisco-Guid)")
    parser.add_argument("--agent-first", action="store_true", help="agent on the first m-line")
    parser.add_argument("--hold-after", type=float, help="seconds after the answer before a hold")
    parser.add_argument("--hold-for", type=float, default=HOLD_S, help="seconds on hold")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each SIP step")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    parser.add_argument("-v", "--verbose", action="store_true", help="print pjsua's log (every SIP message)")
    args = parser.parse_args()
    options = SrcOptions(
        srs_uri=args.srs,
        guid=args.ucid,
        transport=args.transport,
        agent_first=args.agent_first,
        hold_after_s=args.hold_after,
        hold_s=args.hold_for,
        timeout_s=args.timeout,
        verbose=args.verbose,
    )
    result = run_call(options, args.file)
    if args.json:
        print(json.dumps(asdict(result)), flush=True)
    else:
        print(result.invite, end="\n\n")
        summary = {k: v for k, v in asdict(result).items() if k != "invite"}
        print(json.dumps(summary, indent=1))
    sys.exit(0 if result.invite_status == 200 and result.bye_status == 200 and not result.error else 1)


if __name__ == "__main__":
    main()
