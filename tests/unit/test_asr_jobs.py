"""The remote ASR wire format: jobs and results round-trip through Redis Stream fields; bad entries are refused
with a precise message that never quotes the audio or the text."""

from __future__ import annotations

import numpy as np
import pytest

from asr.jobs import AsrJob, AsrResult, Keys, WorkerInfo, stream_entries
from asr.recognizer import Recognition, RecognitionRequest, Word


def job() -> AsrJob:
    samples = (np.sin(np.arange(1600) / 7) * 9000).astype(np.int16)
    return AsrJob("a1b2-7", "node-a:8080", "a1b2", 1_700_000_000_000, RecognitionRequest(samples, "Acme", True, "es"))


def test_job_round_trip() -> None:
    original = job()
    parsed = AsrJob.parse(original.fields())
    assert (parsed.job_id, parsed.node_id, parsed.boot, parsed.deadline_ms) == (
        "a1b2-7",
        "node-a:8080",
        "a1b2",
        1_700_000_000_000,
    )
    assert parsed.request.hotwords == "Acme" and parsed.request.word_timestamps and parsed.request.language == "es"
    assert parsed.request.samples.dtype == np.int16
    assert np.array_equal(parsed.request.samples, original.request.samples)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({b"v": b"9"}, "version"),
        ({b"pcm": b"\x01\x02\x03"}, "odd"),
        ({b"pcm": b"\x00" * (8000 * 2 * 61)}, "over"),
        ({b"deadline": b"soon"}, "malformed field"),
        ({b"id": b"\xff\xfe"}, "malformed field"),
    ],
)
def test_malformed_jobs_are_refused(change: dict[bytes, bytes], message: str) -> None:
    fields = {**job().fields(), **change}
    with pytest.raises(ValueError, match=message):
        AsrJob.parse(fields)


def test_missing_field_is_named() -> None:
    fields = job().fields()
    del fields[b"lang"]
    with pytest.raises(ValueError, match="'lang'"):
        AsrJob.parse(fields)


def test_result_round_trip_keeps_words_and_scores() -> None:
    recognition = Recognition("my card is one two", (Word(" my", 0, 120, 0.9),), 5, 12, False, 88.5, 0.01, -0.2)
    parsed = AsrResult.parse(AsrResult("a1b2-7", "w1", recognition).fields())
    assert parsed.recognition == recognition and parsed.worker_id == "w1"


def test_failed_result_carries_the_error_type_only() -> None:
    parsed = AsrResult.parse(AsrResult("a1b2-7", "w1", error="LanguageNotSupported").fields())
    assert parsed.recognition is None and parsed.error == "LanguageNotSupported"


def test_malformed_result_never_quotes_text() -> None:
    fields = AsrResult("j", "w", Recognition("4111 1111 1111 1111")).fields()
    fields[b"r"] = fields[b"r"].replace(b'"words"', b'"wordz"')
    with pytest.raises(ValueError, match="malformed recognition") as raised:
        AsrResult.parse(fields)
    assert "4111" not in str(raised.value)


def test_worker_info_round_trip() -> None:
    info = WorkerInfo("host:42", "bundled", ("en",), "cpu", 4)
    assert WorkerInfo.decode(info.encode()) == info
    with pytest.raises(ValueError, match="heartbeat"):
        WorkerInfo.decode(b'{"worker_id": "x"}')


def test_stream_entries_reads_both_reply_shapes() -> None:
    entries = [(b"1-0", {b"a": b"b"}), (b"2-0", None)]
    assert stream_entries([[b"jobs", entries]]) == entries
    assert stream_entries({b"jobs": entries}) == entries
    assert stream_entries(None) == []


def test_keys_are_per_node_and_per_job() -> None:
    keys = Keys()
    assert keys.results("a") != keys.results("b")
    assert keys.cancelled("j1").startswith(keys.prefix) and keys.node("a").startswith(keys.prefix)
