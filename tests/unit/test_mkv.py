"""MKV reader for KVS GetMedia: the FFmpeg-muxed Connect fixture in any chunking, errors, and bounded memory."""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Iterable

import numpy as np
import pytest

from mediagw.ingress.kvs.mkv import (
    AudioBlock,
    ClusterStarted,
    Event,
    FragmentTags,
    MkvError,
    MkvReader,
    SegmentEnded,
    Track,
    TracksFound,
)
from tests.fixtures.kvs import make_mkv as mk

FIXTURE = mk.FIXTURE.read_bytes()
HEADER = mk.element(mk.EBML, mk.element(0x4282, b"matroska"))
SEGMENT = mk.element_id(mk.SEGMENT) + mk.UNKNOWN_SIZE
CLUSTER = mk.element_id(mk.CLUSTER) + mk.UNKNOWN_SIZE


def read(data: bytes, chunks: Iterable[int] | None = None, reader: MkvReader | None = None) -> list[Event]:
    reader = reader or MkvReader()
    events: list[Event] = []
    pos = 0
    for size in chunks or [len(data)]:
        events += reader.feed(data[pos : pos + size])
        pos += size
    assert pos >= len(data)
    return events + reader.close()


def blocks(events: list[Event], track: int) -> list[AudioBlock]:
    return [e for e in events if isinstance(e, AudioBlock) and e.track == track]


def cluster(timecode: int, *body: bytes) -> bytes:
    return CLUSTER + mk.uint_element(mk.TIMECODE, timecode) + b"".join(body)


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return read(FIXTURE)


def test_any_chunking_gives_the_same_events(events: list[Event]) -> None:
    rng = random.Random(7)
    assert read(FIXTURE, [1] * len(FIXTURE)) == events
    assert read(FIXTURE, [7] * (len(FIXTURE) // 7 + 1)) == events
    for _ in range(3):
        sizes = [rng.choice((1, 2, 3, 11, 100, 331, 4096, 70_000)) for _ in range(len(FIXTURE) // 10)]
        assert read(FIXTURE, sizes) == events


def test_tracks_as_amazon_connect_names_them(events: list[Event]) -> None:
    found = [e for e in events if isinstance(e, TracksFound)]
    assert len(found) == 4  # every fragment repeats them
    expected = [("AUDIO_FROM_CUSTOMER", 1), ("AUDIO_TO_CUSTOMER", 2)]
    for event in found:
        assert [(t.name, t.number) for t in event.tracks] == expected
        for track in event.tracks:
            assert (track.codec_id, track.sampling_frequency, track.channels, track.bit_depth) == (
                "A_PCM/INT/LIT",
                8000.0,
                1,
                16,
            )


def test_pcm_of_each_track_is_the_source_sample_for_sample(events: list[Event]) -> None:
    customer, agent = mk.source_audio(8.0)
    for track, source in ((1, customer), (2, agent)):
        got = blocks(events, track)
        pcm = np.frombuffer(b"".join(b.payload for b in got), "<i2")
        assert len(pcm) == 64_000
        np.testing.assert_array_equal(pcm, source)
        assert [b.timecode_ms for b in got] == list(range(0, 8000, 20))  # cluster + relative, 20 ms blocks


def test_fragment_tags_clusters_and_segments(events: list[Event]) -> None:
    assert [e.timecode_ms for e in events if isinstance(e, ClusterStarted)] == [0, 2000, 4000, 6000]
    assert sum(isinstance(e, SegmentEnded) for e in events) == 4
    tags = [e.tags for e in events if isinstance(e, FragmentTags)]
    service = [t for t in tags if "AWS_KINESISVIDEO_FRAGMENT_NUMBER" in t]
    numbers = [int(t["AWS_KINESISVIDEO_FRAGMENT_NUMBER"]) for t in service]
    assert len(numbers) == 4 and numbers == sorted(set(numbers))
    assert service[1]["AWS_KINESISVIDEO_PRODUCER_TIMESTAMP"] == "1732500002.000"
    assert service[1]["AWS_KINESISVIDEO_SERVER_TIMESTAMP"] == "1732500002.400"
    assert [t["ContactId"] for t in tags if "ContactId" in t] == [mk.CONTACT_ID] * 4
    assert [t["AWS_KINESISVIDEO_MILLIS_BEHIND_NOW"] for t in tags if "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW" in t] == [
        "8000",
        "6000",
        "4000",
        "2000",
    ]
    # order within a fragment: tracks, service tags, cluster, its blocks, then the producer's and trailing tags
    first = events[: events.index(SegmentEnded())]
    kinds = [type(e).__name__ for e in first if not isinstance(e, AudioBlock)]
    assert kinds == ["TracksFound", "FragmentTags", "FragmentTags", "ClusterStarted", "FragmentTags", "FragmentTags"]


def test_truncated_stream(events: list[Event]) -> None:
    with pytest.raises(MkvError, match="truncated inside an element"):
        read(FIXTURE[:-200_000])  # mid-SimpleBlock
    with pytest.raises(MkvError, match="truncated: EBML needs"):
        read(FIXTURE[:21])  # between two children of the known-size EBML header
    second = FIXTURE.index(HEADER[:4], 4)  # a fragment boundary, inside the unknown-size Segment
    first = read(FIXTURE[:second])
    assert first[-1] == SegmentEnded() and first == events[: len(first)]


def test_corrupt_vints() -> None:
    with pytest.raises(MkvError, match="invalid element ID"):
        read(HEADER + SEGMENT + b"\x00\x81\x00")
    with pytest.raises(MkvError, match=r"invalid size VINT for element 0x1F43B675 \(first byte 0x00\)"):
        read(HEADER + SEGMENT + mk.element_id(mk.CLUSTER) + b"\x00" * 8)
    with pytest.raises(MkvError, match="Block header truncated or invalid"):
        read(HEADER + SEGMENT + cluster(0, mk.element(mk.SIMPLE_BLOCK, b"\x00\x00\x00\x80")))
    reader = MkvReader()
    with pytest.raises(MkvError):
        reader.feed(HEADER + b"\x00")
    with pytest.raises(MkvError, match="failed earlier"):
        reader.feed(b"\x80")


def test_absurd_sizes_are_refused_before_any_buffering() -> None:
    reader = MkvReader()
    reader.feed(HEADER + SEGMENT + cluster(0))
    header = mk.element_id(mk.SIMPLE_BLOCK) + (0x01 << 56 | 1 << 40).to_bytes(8, "big")
    with pytest.raises(MkvError, match=r"SimpleBlock of 1099511627776 bytes exceeds max_element_bytes \(1048576\)"):
        reader.feed(header)
    with pytest.raises(MkvError, match="TagString of 2001 bytes exceeds max_element_bytes"):
        read(HEADER + SEGMENT + mk.tags({"x": "y" * 2001}), reader=MkvReader(max_element_bytes=2000))
    with pytest.raises(MkvError, match="SimpleBlock of unknown size"):
        read(HEADER + SEGMENT + cluster(0) + mk.element_id(mk.SIMPLE_BLOCK) + b"\xff")
    with pytest.raises(MkvError, match="overruns its parent"):
        read(HEADER + mk.element(mk.SEGMENT, mk.element_id(mk.CLUSTER) + mk.size_vint(100)))


def test_large_unknown_elements_stream_past_without_buffering() -> None:
    void = mk.element_id(0xEC) + mk.size_vint(20 << 20)  # 20 MiB of Void, far above max_element_bytes
    reader = MkvReader()
    assert reader.feed(HEADER + SEGMENT + void) == []
    chunk = bytes(65_536)
    for _ in range(320):
        assert reader.feed(chunk) == []
        assert reader.buffered_bytes == 0
    events = reader.feed(cluster(40, mk.simple_block(1, 0, b"\x01\x00"))) + reader.close()
    assert events == [ClusterStarted(40), AudioBlock(1, 40, b"\x01\x00"), SegmentEnded()]


def test_lacing_is_refused() -> None:
    for flags, name in ((0x82, "Xiph"), (0x84, "fixed-size"), (0x86, "EBML")):
        with pytest.raises(MkvError, match=f"unsupported lacing \\({name}\\) in a block of track 2"):
            read(HEADER + SEGMENT + cluster(0, mk.simple_block(2, 0, b"\x01\x02\x03", flags)))


def test_nested_simple_tags_and_block_groups() -> None:
    nested = mk.simple_tag("OUTER", "1", mk.simple_tag("INNER", "2", mk.simple_tag("DEEPEST", "3")))
    tags = mk.element(mk.TAGS, mk.element(mk.TAG, nested))
    block_group = mk.element(0xA0, mk.element(0xA1, b"\x82\x00\x05\x00pcm") + mk.uint_element(0x9B, 20))
    events = read(HEADER + SEGMENT + tags + cluster(100, block_group))
    assert events == [
        FragmentTags({"OUTER/INNER/DEEPEST": "3", "OUTER/INNER": "2", "OUTER": "1"}),
        ClusterStarted(100),
        AudioBlock(2, 105, b"pcm"),
        SegmentEnded(),
    ]


def test_nesting_and_tag_text_are_capped() -> None:
    deep = mk.simple_tag("L0", "v")
    for level in range(1, 20):
        deep = mk.simple_tag(f"L{level}", "v", deep)
    with pytest.raises(MkvError, match="SimpleTag nested more than 16 masters deep"):
        read(HEADER + SEGMENT + mk.element(mk.TAGS, mk.element(mk.TAG, deep)))
    many = mk.element(mk.TAGS, mk.element(mk.TAG, b"".join(mk.simple_tag(f"K{i}", "x" * 90) for i in range(30))))
    with pytest.raises(MkvError, match=r"Tags hold more than max_element_bytes \(2000\) of text"):
        read(HEADER + SEGMENT + many, reader=MkvReader(max_element_bytes=2000))
    reader = MkvReader()
    reader.feed(HEADER)
    reader.close()
    with pytest.raises(MkvError, match="closed or failed earlier"):
        reader.feed(HEADER)


def test_unknown_size_cluster_ends_at_a_sibling_and_blocks_after_mid_fragment_tags_keep_its_time() -> None:
    stream = HEADER + SEGMENT + cluster(1000, mk.simple_block(1, 0, b"a"))
    stream += mk.tags({"ContactId": "c"}) + mk.simple_block(1, 20, b"b")  # KVS producer tags between frames
    stream += cluster(3000, mk.simple_block(1, -20, b"c")) + HEADER + SEGMENT + cluster(0, mk.simple_block(2, 0, b"d"))
    assert read(stream) == [
        ClusterStarted(1000),
        AudioBlock(1, 1000, b"a"),
        FragmentTags({"ContactId": "c"}),
        AudioBlock(1, 1020, b"b"),
        ClusterStarted(3000),
        AudioBlock(1, 2980, b"c"),
        SegmentEnded(),
        ClusterStarted(0),
        AudioBlock(2, 0, b"d"),
        SegmentEnded(),
    ]


def test_known_sizes_timecode_scale_and_header_checks() -> None:
    info = mk.element(0x1549A966, mk.uint_element(0x2AD7B1, 100_000))  # 0.1 ms ticks
    entry = mk.element(0xAE, mk.uint_element(0xD7, 1) + mk.element(0x86, b"A_PCM/INT/LIT\0\0"))
    tracks = mk.element(0x1654AE6B, entry)
    body = info + tracks + mk.element(mk.CLUSTER, mk.uint_element(mk.TIMECODE, 500) + mk.simple_block(1, 200, b"x"))
    events = read(HEADER + mk.element(mk.SEGMENT, body))
    assert events == [
        TracksFound([Track(1, "", "A_PCM/INT/LIT")]),
        ClusterStarted(50),
        AudioBlock(1, 70, b"x"),
        SegmentEnded(),
    ]
    with pytest.raises(MkvError, match="unsupported DocType 'mp4'"):
        read(mk.element(mk.EBML, mk.element(0x4282, b"mp4")))
    with pytest.raises(MkvError, match="does not start with an EBML header"):
        read(SEGMENT)
    with pytest.raises(MkvError, match="block before its cluster's Timecode"):
        read(HEADER + SEGMENT + CLUSTER + mk.simple_block(1, 0, b"x"))
    with pytest.raises(MkvError, match="TrackEntry without a TrackNumber"):
        read(HEADER + SEGMENT + mk.element(0x1654AE6B, mk.element(0xAE, b"")))


def test_memory_stays_bounded_over_a_two_hour_stream() -> None:
    reader, samples, last = MkvReader(), 0, b""
    tracemalloc.start()
    try:
        for fragment in mk.synthetic_stream(2 * 3600, frame_ms=1000, fragment_ms=10_000):  # tracemalloc is slow
            for offset in range(0, len(fragment), 65_536):  # as network reads would come
                for event in reader.feed(fragment[offset : offset + 65_536]):
                    if isinstance(event, AudioBlock) and event.track == 1:
                        samples, last = samples + len(event.payload) // 2, event.payload
                assert reader.buffered_bytes <= 16_000 + 16  # one block at most
        reader.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert samples == 2 * 3600 * 8000
    np.testing.assert_array_equal(np.frombuffer(last, "<i2"), mk.ramp_samples(samples - 8000, 8000))
    assert peak < 4 << 20, f"peak {peak} bytes for a 230 MB stream"  # generator's fragment and numpy arrays included
