"""`mediagw redact`: operators try their entity settings and custom rules on text (stdin lines -> JSON lines)."""

from __future__ import annotations

import sys

from mediagw.app import build_text_stage
from mediagw.config import Config, ConfigError
from redaction.entities import UnknownEntity, parse_entities
from redaction.lines import Line, as_json, redact_lines


def redact_stdin(config: Config, entities: str | None, role: str, language: str = "en") -> int:
    try:
        settings, stage = build_text_stage(config)
        active = parse_entities(entities) if entities else settings.active
        stage.require_model(active)
    except (UnknownEntity, ConfigError) as error:
        print(f"mediagw redact: {error}", file=sys.stderr)
        return 2
    stdin = open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    lines = (Line(line.rstrip("\r\n"), role) for line in stdin)
    for redaction in redact_lines(lines, stage.redactor, active, language=language):
        print(as_json(redaction), flush=True)
    return 0
