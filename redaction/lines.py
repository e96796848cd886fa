"""Redaction of plain text lines, as `mediagw redact` and bench.redaction run it: one utterance a line, read in
order as one conversation, each answered with its redacted text and the spans found (offsets into the line)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from redaction.context import ConversationContext
from redaction.entities import EntityId
from redaction.redactor import Redaction, Redactor


@dataclass(frozen=True)
class Line:
    text: str
    role: str = "customer"


def redact_lines(
    lines: Iterable[Line],
    redactor: Redactor,
    active: frozenset[EntityId],
    seconds_apart: float = 4.0,
    language: str = "en",
) -> Iterator[Redaction]:
    context = ConversationContext()
    for index, line in enumerate(lines):
        yield redactor.redact(line.text, line.role, active, context, now=index * seconds_apart, language=language)


def as_json(redaction: Redaction) -> str:
    spans = [{"entity": str(s.entity), "start": s.start, "end": s.end} for s in redaction.spans]
    return json.dumps({"text": redaction.text, "spans": spans}, ensure_ascii=False)
