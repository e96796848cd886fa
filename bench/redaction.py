"""Precision, recall and throughput of formatting + redaction on the labelled corpus (JSON on stdout).

    python -m bench.redaction

Every dialogue runs through smart formatting and the redactor with all entities active and one
conversation context, as a call would. Recall counts a labelled secret as caught when no trace of it is
left in the output (number words are read as digits first, so a secret left spelled out still counts as
leaked); precision counts masked spans that match the utterance's labels. Throughput is one core, one
thread, formatting included.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from mediagw.evaluation import normalize
from redaction.context import ConversationContext
from redaction.entities import ENTITIES, EntityId
from redaction.itn import to_written
from redaction.redactor import Redaction, RedactionOptions, Redactor

CORPUS = Path(__file__).parent / "corpus" / "redaction_corpus.jsonl"
ALL = frozenset(EntityId)


def load() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


def run(lines: list[dict[str, Any]], redactor: Redactor) -> list[Redaction]:
    out, context, dialogue = [], ConversationContext(), None
    for line in lines:
        if line["dialogue"] != dialogue:
            context, dialogue = ConversationContext(), line["dialogue"]
        out.append(redactor.redact(to_written(line["text"]), line["role"], ALL, context, now=line["turn"] * 4.0))
    return out


def leaked(secret: str, output: str) -> bool:
    if secret.isdigit():
        digits = "".join(c for c in normalize(output) if c.isdigit())
        return secret in digits
    flat = "".join(c for c in output.lower() if c.isalnum())
    return secret.lower() in flat


def score(lines: list[dict[str, Any]], results: list[Redaction]) -> dict[str, Any]:
    caught: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    spans: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses = []
    for line, result in zip(lines, results, strict=True):
        labels = {e["entity"] for e in line["entities"]}
        for entity in line["entities"]:
            ok = not entity["secret"] or not leaked(entity["secret"], result.text)
            caught[entity["entity"]][0] += ok
            caught[entity["entity"]][1] += 1
            if not ok:
                misses.append({"entity": entity["entity"], "in": line["text"], "out": result.text})
        for span in result.spans:
            good = span.entity in labels
            spans[span.entity][0] += good
            spans[span.entity][1] += 1
            if not good:
                misses.append({"false_positive": span.entity, "in": line["text"], "out": result.text})
    per_entity = {}
    for entity in sorted(set(caught) | set(spans)):
        c, s = caught.get(entity, [0, 0]), spans.get(entity, [0, 0])
        per_entity[entity] = {
            "instances": c[1],
            "recall": round(c[0] / c[1], 4) if c[1] else None,
            "spans": s[1],
            "precision": round(s[0] / s[1], 4) if s[1] else None,
        }
    total_good = sum(s[0] for s in spans.values())
    total = sum(s[1] for s in spans.values())
    return {
        "per_entity": per_entity,
        "precision_overall": round(total_good / total, 4) if total else None,
        "errors": misses,
    }


def throughput(lines: list[dict[str, Any]], redactor: Redactor, rounds: int = 20) -> float:
    started = time.process_time()
    for _ in range(rounds):
        run(lines, redactor)
    return len(lines) * rounds / (time.process_time() - started)


def main() -> None:
    lines = load()
    redactor = Redactor(RedactionOptions())
    report = {
        "benchmark": "redaction",
        "utterances": len(lines),
        "dialogues": len({line["dialogue"] for line in lines}),
        "default_active": sorted(e.id.value for e in ENTITIES.values() if e.active_by_default),
        **score(lines, run(lines, redactor)),
        "utterances_per_s_one_core": round(throughput(lines, redactor)),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
