"""MKV reader for KVS GetMedia: throughput in x real time on one core, and peak memory over a long stream (JSON).

    python -m bench.mkv_parse                       # 10 min for throughput, 2 h for memory
    python -m bench.mkv_parse --seconds 60 --memory-seconds 600

Streams are Amazon Connect calls laid out as GetMedia returns them (tests/fixtures/kvs/make_mkv.py): two tracks,
PCM 8 kHz 16-bit, one fragment (EBML header, Segment, Info, Tracks, three Tags, an unknown-size Cluster) every
2 s. Throughput is CPU time of `MkvReader.feed` over the bytes fed in chunks of several sizes, events consumed
(PCM bytes counted); it is measured for 20 ms blocks (a telephony packet) and 100 ms blocks, and for the
FFmpeg-muxed fixture replayed. Memory is tracemalloc's peak while a long stream is generated and parsed in 64 KiB
reads (the generator's current fragment included), and the most bytes the reader held between calls.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from typing import Any

from mediagw.ingress.kvs.mkv import AudioBlock, MkvReader
from tests.fixtures.kvs import make_mkv

CHUNKS = (1_500, 16_384, 65_536)


def _parse(data: bytes, chunk: int) -> tuple[float, int]:
    reader, pcm_bytes = MkvReader(), 0
    begun = time.process_time()
    for offset in range(0, len(data), chunk):
        for event in reader.feed(data[offset : offset + chunk]):
            if isinstance(event, AudioBlock):
                pcm_bytes += len(event.payload)
    reader.close()
    return time.process_time() - begun, pcm_bytes


def throughput(seconds: float, frame_ms: int) -> dict[str, Any]:
    data = b"".join(make_mkv.synthetic_stream(seconds, frame_ms=frame_ms))
    result: dict[str, Any] = {"stream_seconds": seconds, "block_ms": frame_ms, "stream_bytes": len(data)}
    for chunk in CHUNKS:
        cpu, pcm_bytes = min(_parse(data, chunk) for _ in range(3))
        assert pcm_bytes == seconds * 2 * 16_000, "the reader lost audio"
        result[f"x_real_time_chunk_{chunk}"] = round(seconds / cpu)
    result["blocks_per_cpu_s_chunk_16384"] = round(2 * 1000 / frame_ms * result["x_real_time_chunk_16384"])
    return result


def fixture_throughput(repeats: int = 20) -> dict[str, Any]:
    data = make_mkv.FIXTURE.read_bytes()
    cpu = sum(_parse(data, 16_384)[0] for _ in range(repeats))
    return {"fixture_seconds": 8.0 * repeats, "x_real_time_chunk_16384": round(8.0 * repeats / cpu)}


def memory(seconds: float, frame_ms: int = 20) -> dict[str, Any]:
    reader, held, fed = MkvReader(), 0, 0
    begun = time.perf_counter()
    tracemalloc.start()
    try:
        for fragment in make_mkv.synthetic_stream(seconds, frame_ms=frame_ms):
            for offset in range(0, len(fragment), 65_536):
                reader.feed(fragment[offset : offset + 65_536])
                held = max(held, reader.buffered_bytes)
            fed += len(fragment)
        reader.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {
        "stream_seconds": seconds,
        "block_ms": frame_ms,
        "stream_mib": round(fed / 2**20, 1),
        "peak_traced_kib": round(peak / 1024),
        "max_buffered_bytes": held,
        "wall_s_under_tracemalloc": round(time.perf_counter() - begun, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600, help="stream length for throughput")
    parser.add_argument("--memory-seconds", type=float, default=7200, help="stream length for peak memory")
    args = parser.parse_args()
    report = {
        "throughput": [throughput(args.seconds, 20), throughput(args.seconds, 100)],
        "fixture": fixture_throughput(),
        "memory": memory(args.memory_seconds),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
