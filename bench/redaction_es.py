"""Precision and recall of Spanish (es-US) formatting + redaction on the labelled Spanish corpus (JSON on stdout).

    python -m bench.redaction_es          (also part of `python -m bench.redaction`, as "es_US")

The English benchmark's method (bench/redaction.py) on bench/corpus/redaction_corpus_es.jsonl
(`python -m bench.redaction_corpus_es` regenerates it): every dialogue through Spanish smart formatting and
the redactor with the reference nine on and language 'es', one conversation context; then, under "catalogue",
with every entity on, scored on the catalogue's labels too (names, addresses, account and id numbers). A secret
counts as leaked when its digits survive, Spanish number words left in the output read as their digits, or any
word of a name or street survives.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from bench import redaction_corpus_es
from bench.redaction import ALL, score
from redaction.context import ConversationContext
from redaction.digit_runs import digit_words
from redaction.entities import EntityId
from redaction.languages import to_written
from redaction.numbers_es import fold
from redaction.redactor import Redaction, RedactionOptions, Redactor

_WORD = re.compile(r"\w+")
# Every entity but DATE (any date): the corpus's dates are near misses of DOB's, not labelled as dates.
EVERY = frozenset(EntityId) - {EntityId.DATE}


def load() -> list[dict[str, Any]]:
    text = redaction_corpus_es.OUT.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run(lines: list[dict[str, Any]], redactor: Redactor, active: frozenset[EntityId] = ALL) -> list[Redaction]:
    out, context, dialogue = [], ConversationContext(), None
    for line in lines:
        if line["dialogue"] != dialogue:
            context, dialogue = ConversationContext(), line["dialogue"]
        written = to_written(line["text"], "es")
        out.append(redactor.redact(written, line["role"], active, context, now=line["turn"] * 4.0, language="es"))
    return out


def leaked(secret: str, output: str) -> bool:
    """A number leaks when its digits survive (number words read as digits); a name or street (capitalised
    words) when any of its words does; anything else when its letters survive in a row."""
    if " " in secret or secret[:1].isupper():
        words = {fold(word) for word in _WORD.findall(output)}
        return any(fold(word) in words for word in secret.split())
    if secret.isdigit():
        numbers = digit_words("es")
        read = "".join(numbers.get(fold(word), word) for word in _WORD.findall(output))
        return secret in "".join(c for c in read if c.isdigit())
    return fold(secret) in "".join(c for c in fold(output) if c.isalnum())


def the_nine(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The nine's dialogues, labelled with the nine only: the catalogue's are scored with every entity on."""
    return [
        {**line, "entities": [e for e in line["entities"] if e["entity"] in ALL]}
        for line in lines
        if line.get("part") != "catalogue"
    ]


def leaking(lines: list[dict[str, Any]], results: list[Redaction]) -> list[dict[str, Any]]:
    return [
        line
        for line, result in zip(lines, results, strict=True)
        if any(e["secret"] and leaked(e["secret"], result.text) for e in line["entities"])
    ]


def catalogue(lines: list[dict[str, Any]], redactor: Redactor) -> dict[str, Any]:
    """Every entity on but DATE (the English named-entity model does not run on Spanish): recall and precision
    per entity, lines that leak, and lines without any entity that got a mask."""
    results = run(lines, redactor, EVERY)
    scores = score(lines, results, leaked)
    ours = [i for i, line in enumerate(lines) if line.get("part") == "catalogue"]
    nine_only = run([lines[i] for i in ours], redactor)
    plain = [(line, result) for line, result in zip(lines, results, strict=True) if not line["entities"]]
    return {
        **scores,
        "leaked_lines": len(leaking(lines, results)),
        "no_entity_lines": len(plain),
        "no_entity_lines_masked": sum(bool(result.spans) for _, result in plain),
        # With only the nine on, the catalogue's lines the fail-safe PCI rule masks anyway (a long account number
        # read as one run), and those whose secret still leaks.
        "catalogue_lines": len(ours),
        "catalogue_lines_masked_by_the_nine": sum(bool(result.spans) for result in nine_only),
        "catalogue_lines_leaking_with_the_nine": len(leaking([lines[i] for i in ours], nine_only)),
    }


def report(redactor: Redactor) -> dict[str, Any]:
    everything = load()
    lines = the_nine(everything)
    results = run(lines, redactor)
    scores = score(lines, results, leaked)
    started = time.process_time()
    rounds = 10
    for _ in range(rounds):
        run(lines, redactor)
    rate = len(lines) * rounds / (time.process_time() - started)
    leaked_lines = leaking(lines, results)
    return {
        "utterances": len(lines),
        "dialogues": len({line["dialogue"] for line in lines}),
        **scores,
        "leaked_lines": len(leaked_lines),
        "utterances_per_s_one_core": round(rate),
        "catalogue": catalogue(everything, redactor),
    }


def main() -> None:
    print(
        json.dumps({"benchmark": "redaction_es", **report(Redactor(RedactionOptions()))}, indent=1, ensure_ascii=False)
    )


if __name__ == "__main__":
    main()
