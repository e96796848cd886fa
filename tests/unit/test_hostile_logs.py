"""Log injection: what came from outside never forges a line or drives a terminal, in text and JSON logs alike."""

from __future__ import annotations

import json
import logging
import sys

from mediagw.logs import MAX_FIELD_CHARS, ContextFormatter, JsonFormatter

FORGED = "/x\r\n2026-01-01 00:00:00,000 INFO mediagw: admin logged in\x1b[2J\x9b"


def record(*args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError(f"bad value {FORGED}")
        except ValueError:
            exc_info = sys.exc_info()
    entry = logging.LogRecord("mediagw.api.errors", logging.INFO, __file__, 1, "GET %s -> %s", args, exc_info)
    entry.__dict__.update(extra)
    return entry


def text(entry: logging.LogRecord) -> str:
    return ContextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s").format(entry)


def test_control_characters_in_arguments_and_fields_are_escaped_in_text_logs() -> None:
    line = text(record(FORGED, "401-02", request_id=FORGED, call_id="CA\x1b"))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\x9b" not in line
    assert "\\x0d\\x0a2026-01-01" in line and "\\x1b[2J" in line and "call_id=CA\\x1b" in line


def test_control_characters_are_escaped_in_json_logs_before_encoding() -> None:
    line = JsonFormatter().format(record(FORGED, "401-02", request_id=FORGED, exc=True))
    assert "\n" not in line
    entry = json.loads(line)
    for value in (entry["msg"], entry["request_id"], entry["exc"].replace("\n", "")):
        assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value), value


def test_a_traceback_keeps_its_lines_but_none_can_pass_for_an_entry() -> None:
    lines = text(record("/p", "500-01", exc=True)).split("\n")
    assert lines[0].endswith("GET /p -> 500-01")
    assert len(lines) > 3 and all(line.startswith("  ") for line in lines[1:])
    assert any("\\x1b[2J" in line for line in lines[1:])


def test_long_arguments_and_fields_are_clipped() -> None:
    line = text(record("CA" + "a" * 60_000, "x", call_id="b" * 60_000))
    assert len(line) < 4 * MAX_FIELD_CHARS
    assert "(+59746 chars)" in line or "chars)" in line
