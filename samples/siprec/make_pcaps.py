"""Write the sample calls as RTP captures for sipp's play_pcap_audio: one G.711 stream per file, 20 ms packets.

    python samples/siprec/make_pcaps.py                      # billing, both channels, PCMU (the committed files)
    python samples/siprec/make_pcaps.py --calls billing travel --codecs pcmu pcma
    python samples/siprec/make_pcaps.py --both               # also <call>-both-<codec>.pcap: customer and agent

Each file is `pcap/<call>-<customer|agent>-<pcmu|pcma>.pcap`: classic libpcap, Ethernet/IPv4/UDP, RTP with
payload type 0 or 8, 160-byte payloads 20 ms apart, one SSRC, sequence and timestamp counting up from fixed
starts (the output is reproducible). Channel 0 of the sound file is the customer, channel 1 the agent.

sipp sends a capture's packets to the port of the first m=audio line of the answer, shifted by how far each
packet's UDP destination port is above the lowest one in the file. `--both` puts the customer on port 6000
and the agent on 6002, so the agent's packets go to that port + 2: the second m-line only when the recording
server answers with ports P and P + 2.
"""

from __future__ import annotations

import argparse
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from asr.frame import Pcm
from mediagw.audio.g711 import pcm_to_alaw, pcm_to_ulaw
from mediagw.offline import read_channels

HERE = Path(__file__).resolve().parent
CALLS = HERE.parent / "calls"
ROLES = ("customer", "agent")
CODECS: dict[str, tuple[int, Callable[[Pcm], bytes]]] = {"pcmu": (0, pcm_to_ulaw), "pcma": (8, pcm_to_alaw)}
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
BASE_PORT = 6000
SRC_IP, DST_IP = bytes([192, 0, 2, 10]), bytes([198, 51, 100, 20])  # documentation ranges; sipp rewrites both
SRC_MAC, DST_MAC = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
START_S = 1_700_000_000

Packet = tuple[float, bytes]  # capture time in seconds, Ethernet frame


def rtp_payloads(samples: Pcm, encode: Callable[[Pcm], bytes]) -> list[bytes]:
    padded = np.zeros(-(-len(samples) // FRAME_SAMPLES) * FRAME_SAMPLES, dtype=np.int16)
    padded[: len(samples)] = samples
    encoded = encode(padded)
    return [encoded[i : i + FRAME_SAMPLES] for i in range(0, len(encoded), FRAME_SAMPLES)]


def rtp_packet(payload_type: int, sequence: int, timestamp: int, ssrc: int, payload: bytes, marker: bool) -> bytes:
    header = struct.pack("!BBHII", 0x80, payload_type | (0x80 if marker else 0), sequence, timestamp, ssrc)
    return header + payload


def _ipv4_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ethernet_udp(payload: bytes, sport: int, dport: int, ident: int) -> bytes:
    """Ethernet II + IPv4 (checksummed) + UDP (checksum 0: none, which sipp recomputes anyway)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0xB8, 20 + len(udp), ident & 0xFFFF, 0x4000, 64, 17, 0, SRC_IP, DST_IP)
    ip = ip[:10] + struct.pack("!H", _ipv4_checksum(ip)) + ip[12:]
    return DST_MAC + SRC_MAC + b"\x08\x00" + ip + udp


def stream_packets(samples: Pcm, codec: str, name: str, dport: int) -> Iterator[Packet]:
    payload_type, encode = CODECS[codec]
    seed = zlib.crc32(name.encode())
    ssrc, sequence, timestamp = seed, seed & 0x7FFF, seed >> 1  # fixed per file name: reproducible output
    for index, payload in enumerate(rtp_payloads(samples, encode)):
        rtp = rtp_packet(
            payload_type,
            (sequence + index) & 0xFFFF,
            (timestamp + index * FRAME_SAMPLES) & 0xFFFFFFFF,
            ssrc,
            payload,
            marker=index == 0,
        )
        yield START_S + index * 0.020, ethernet_udp(rtp, dport, dport, index)


def write_pcap(path: Path, packets: list[Packet]) -> None:
    """Classic libpcap: microsecond timestamps, link type 1 (Ethernet)."""
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for when, frame in packets:
            seconds, micros = divmod(round(when * 1_000_000), 1_000_000)
            out.write(struct.pack("<IIII", seconds, micros, len(frame), len(frame)) + frame)


def make_call(call: str, codecs: list[str], both: bool, out_dir: Path) -> list[Path]:
    channels = dict(zip(ROLES, read_channels(CALLS / f"{call}.flac")[:2], strict=True))
    written = []
    for codec in codecs:
        for role, samples in channels.items():
            name = f"{call}-{role}-{codec}"
            written.append(out_dir / f"{name}.pcap")
            write_pcap(written[-1], list(stream_packets(samples, codec, name, BASE_PORT)))
        if both:
            mixed = [
                packet
                for offset, (role, samples) in enumerate(channels.items())
                for packet in stream_packets(samples, codec, f"{call}-{role}-{codec}", BASE_PORT + 2 * offset)
            ]
            written.append(out_dir / f"{call}-both-{codec}.pcap")
            write_pcap(written[-1], sorted(mixed, key=lambda packet: packet[0]))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", nargs="+", default=["billing"], help="names of samples/calls/<name>.flac")
    parser.add_argument("--codecs", nargs="+", choices=sorted(CODECS), default=["pcmu"])
    parser.add_argument("--both", action="store_true", help="also one file with both streams (ports 6000, 6002)")
    parser.add_argument("--out", type=Path, default=HERE / "pcap")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for call in args.calls:
        for path in make_call(call, args.codecs, args.both, args.out):
            print(f"{path} {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
