"""Recall and precision per entity of the whole catalogue on the generated corpus, lines that leak, lines
without any entity that got a mask, and the text stage's time per utterance with every entity on next to the
reference nine, in the same run (JSON on stdout).

    python -m bench.redaction_breadth      # also part of python -m bench.redaction
    python -m bench.redaction_breadth /tmp/held_out.jsonl   # another seed of bench.breadth_corpus

Lines go through `redaction.lines` (what `mediagw redact` runs), one conversation per dialogue. A labelled span
leaks when any letter or digit of it is left, but the last four of an entity whose mask style keeps them.
A masked span is right when it overlaps a labelled one (of any entity: masking an id under another name
still hides it); precision per entity is by the name it was masked under.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from collections import defaultdict
from itertools import groupby
from pathlib import Path
from typing import Any

from redaction import ner
from redaction.context import ConversationContext
from redaction.entities import ENTITIES, NEEDS_NER, REFERENCE, EntityId
from redaction.itn import to_written
from redaction.lines import Line, redact_lines
from redaction.redactor import Redaction, RedactionOptions, Redactor

CORPUS = Path(__file__).parent / "corpus" / "breadth_corpus.jsonl"
ALL = frozenset(EntityId)


def load(path: Path = CORPUS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run(lines: list[dict[str, Any]], redactor: Redactor, active: frozenset[EntityId]) -> list[Redaction]:
    out: list[Redaction] = []
    for _, dialogue in groupby(lines, key=lambda line: line["dialogue"]):
        out += redact_lines((Line(d["text"], d["role"]) for d in dialogue), redactor, active)
    return out


def leaks(line: dict[str, Any], label: dict[str, Any], output: str) -> bool:
    keep = ENTITIES[EntityId(label["entity"])].keep_last if label["entity"] in EntityId.__members__ else 0
    left = [i for i in range(label["start"], label["end"]) if line["text"][i].isalnum() and output[i] != "#"]
    return len(left) > keep or any(not line["text"][i].isdigit() for i in left)


def score(lines: list[dict[str, Any]], results: list[Redaction]) -> dict[str, Any]:
    recall: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    precision: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    leaking, masked_plain, plain = [], [], 0
    for line, result in zip(lines, results, strict=True):
        labels = line["entities"]
        for label in labels:
            leak = leaks(line, label, result.text)
            recall[label["entity"]][0] += not leak
            recall[label["entity"]][1] += 1
            if leak:
                leaking.append({"entity": label["entity"], "in": line["text"], "out": result.text})
        for span in result.spans:
            right = any(span.start < lab["end"] and lab["start"] < span.end for lab in labels)
            precision[str(span.entity)][0] += right
            precision[str(span.entity)][1] += 1
        if line["role"] == "customer" or labels:
            plain += not labels
            if not labels and result.spans:
                masked_plain.append({"in": line["text"], "out": result.text})
    per_entity = {
        entity: {
            "instances": recall[entity][1],
            "recall": _ratio(*recall[entity]),
            "masked_spans": precision[entity][1],
            "precision": _ratio(*precision[entity]),
        }
        for entity in sorted(set(recall) | set(precision))
    }
    return {
        "per_entity": per_entity,
        "leaking_lines": len(leaking),
        "no_entity_lines": plain,
        "no_entity_lines_masked": len(masked_plain),
        "no_entity_lines_masked_ratio": _ratio(len(masked_plain), plain),
        "leaks": leaking,
        "masked_without_entity": masked_plain,
    }


def _ratio(good: int, total: int) -> float | None:
    return round(good / total, 4) if total else None


def stage_times_ms(lines: list[dict[str, Any]], redactor: Redactor, active: frozenset[EntityId]) -> dict[str, float]:
    """The text stage as the pipeline runs it (ITN, then redaction in the call's context), per utterance."""
    times = []
    for _, dialogue in groupby(lines, key=lambda line: line["dialogue"]):
        context = ConversationContext()
        for i, line in enumerate(dialogue):
            started = time.perf_counter()
            redactor.redact(to_written(line["text"]), line["role"], active, context, now=i * 4.0)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "p50": round(statistics.median(times), 3),
        "p95": round(times[int(len(times) * 0.95)], 3),
        "max": round(times[-1], 3),
    }


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def report(corpus: Path = CORPUS) -> dict[str, Any]:
    lines = load(corpus)
    redactor = Redactor(RedactionOptions())
    with_ner = ner.installed_model() is not None
    active = ALL if with_ner else ALL - NEEDS_NER
    if with_ner:
        ner.pipeline()
    scores = score(lines, run(lines, redactor, active))
    reference = score(lines, run(lines, redactor, REFERENCE))
    nine = stage_times_ms(lines, redactor, REFERENCE)
    every = stage_times_ms(lines, redactor, active)
    return {
        "benchmark": "redaction_catalogue",
        "cpu": cpu_name(),
        "corpus": corpus.name,
        "lines": len(lines),
        "entities_active": len(active),
        "ner_model": ner.installed_model(),
        **scores,
        # The same lines with only the reference nine: what of the masks on no-entity lines was there before
        # (the PCI rules' fail-safe: "error code 57" read as a CVV after "TV", digits after "Visa").
        "no_entity_lines_masked_reference_nine": reference["no_entity_lines_masked"],
        "text_stage_ms_reference_nine": nine,
        "text_stage_ms_all_entities": every,
        "p95_ratio_all_vs_nine": round(every["p95"] / nine["p95"], 2) if nine["p95"] else None,
    }


def main() -> None:
    print(json.dumps(report(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS), indent=1))


if __name__ == "__main__":
    main()
