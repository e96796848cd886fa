"""Precision, recall and throughput of formatting + redaction on the labelled corpus (JSON on stdout).

    python -m bench.redaction

Every dialogue runs through smart formatting and the redactor with all entities active and one
conversation context, as a call would. Recall counts a labelled secret as caught when no trace of it is
left in the output (number words are read as digits first, so a secret left spelled out still counts as
leaked); precision counts masked spans that match the utterance's labels. Throughput is one core, one
thread, formatting included.

`catalogue` is bench.redaction_breadth: the whole entity catalogue on its generated corpus (recall and
precision per entity, leaking lines, no-entity lines masked, text-stage p50/p95 with every entity on next to
the reference nine).

`pci_garbling` is the recall of the fail-safe PCI rule on card numbers as the ASR garbles them (digits one by
one, thousands separators, homophones, repeated and dropped digits, words between groups, two utterances, a
card and its CVV in one breath; `python -m bench.pci_garbling` regenerates it).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import pci_garbling, pci_questions, redaction_breadth
from mediagw.evaluation import normalize
from redaction.context import ConversationContext
from redaction.entities import ENTITIES, REFERENCE, EntityId, default_active
from redaction.itn import to_written
from redaction.redactor import Redaction, RedactionOptions, Redactor

CORPUS = Path(__file__).parent / "corpus" / "redaction_corpus.jsonl"
ALL = REFERENCE  # the dialogue corpus is labelled with the reference nine


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


def score(
    lines: list[dict[str, Any]], results: list[Redaction], leaked: Callable[[str, str], bool] = leaked
) -> dict[str, Any]:
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


def garbling_recall(redactor: Redactor) -> dict[str, Any]:
    """Card numbers as the ASR garbles them, with the default entities: a reading is caught when no digit of
    it is left but a whole card's last four (bench/corpus/pci_garbling.jsonl)."""
    readings = [json.loads(line) for line in pci_garbling.OUT.read_text().splitlines()]
    active = default_active()
    by_shape: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    leaked_readings = []
    for reading in readings:
        context = ConversationContext()
        if reading["question"]:
            redactor.redact(to_written(reading["question"]), "agent", active, context, now=0.0)
        outputs = [
            redactor.redact(to_written(text), "customer", active, context, now=3.0 * (i + 1)).text
            for i, text in enumerate(reading["utterances"])
        ]
        leak = pci_garbling.leaks(reading, outputs)
        by_shape[reading["shape"]][0] += not leak
        by_shape[reading["shape"]][1] += 1
        if leak:
            leaked_readings.append({"in": reading["utterances"], "out": outputs})
    return {
        "readings": len(readings),
        "recall": round(1 - len(leaked_readings) / len(readings), 4),
        "recall_by_shape": {shape: round(ok / n, 4) for shape, (ok, n) in sorted(by_shape.items())},
        "leaks": leaked_readings,
    }


def question_recall(redactor: Redactor) -> dict[str, Any]:
    """An agent's question for a card, CVV, PIN or SSN as an ASR writes it, then the answer in some spacing
    (bench/corpus/pci_questions.jsonl): an answer is caught when none of its digits is left."""
    lines = [json.loads(line) for line in pci_questions.OUT.read_text().splitlines()]
    leaked = [{"q": line["questions"], "out": out} for line in lines if (out := pci_questions.leaks(redactor, line))]
    return {"pairs": len(lines), "recall": round(1 - len(leaked) / len(lines), 4), "leaks": leaked}


def main() -> None:
    from bench import redaction_es  # it builds on this module's scoring

    lines = load()
    redactor = Redactor(RedactionOptions())
    scores = score(lines, run(lines, redactor))
    fail_safe = [e for e in scores["errors"] if e.get("false_positive") == EntityId.CREDIT_CARD_NUMBER]
    report = {
        "benchmark": "redaction",
        "utterances": len(lines),
        "dialogues": len({line["dialogue"] for line in lines}),
        "default_active": sorted(e.id.value for e in ENTITIES.values() if e.active_by_default),
        **scores,
        # The documented cost of the fail-safe PCI rule: long reference, order and phone numbers read as one run.
        "long_runs_masked_that_were_no_card": len(fail_safe),
        "pci_garbling": garbling_recall(redactor),
        "pci_questions": question_recall(redactor),
        "utterances_per_s_one_core": round(throughput(lines, redactor)),
        "es_US": redaction_es.report(redactor),  # the Spanish corpus (bench/redaction_es.py)
        "catalogue": redaction_breadth.report(),
    }
    print(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
