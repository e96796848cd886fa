"""Precision and recall of Spanish (es-US) formatting + redaction on the labelled Spanish corpus (JSON on stdout).

    python -m bench.redaction_es          (also part of `python -m bench.redaction`, as "es_US")

The English benchmark's method (bench/redaction.py) on bench/corpus/redaction_corpus_es.jsonl
(`python -m bench.redaction_corpus_es` regenerates it): every dialogue through Spanish smart formatting and
the redactor with all entities on and language 'es', one conversation context. A secret counts as leaked when
its digits survive, Spanish number words left in the output read as their digits.
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
from redaction.languages import to_written
from redaction.numbers_es import fold
from redaction.redactor import Redaction, RedactionOptions, Redactor

_WORD = re.compile(r"\w+")


def load() -> list[dict[str, Any]]:
    text = redaction_corpus_es.OUT.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run(lines: list[dict[str, Any]], redactor: Redactor) -> list[Redaction]:
    out, context, dialogue = [], ConversationContext(), None
    for line in lines:
        if line["dialogue"] != dialogue:
            context, dialogue = ConversationContext(), line["dialogue"]
        written = to_written(line["text"], "es")
        out.append(redactor.redact(written, line["role"], ALL, context, now=line["turn"] * 4.0, language="es"))
    return out


def leaked(secret: str, output: str) -> bool:
    if secret.isdigit():
        numbers = digit_words("es")
        read = "".join(numbers.get(fold(word), word) for word in _WORD.findall(output))
        return secret in "".join(c for c in read if c.isdigit())
    return fold(secret) in "".join(c for c in fold(output) if c.isalnum())


def report(redactor: Redactor) -> dict[str, Any]:
    lines = load()
    results = run(lines, redactor)
    scores = score(lines, results, leaked)
    started = time.process_time()
    rounds = 10
    for _ in range(rounds):
        run(lines, redactor)
    rate = len(lines) * rounds / (time.process_time() - started)
    leaked_lines = [
        line
        for line, result in zip(lines, results, strict=True)
        if any(e["secret"] and leaked(e["secret"], result.text) for e in line["entities"])
    ]
    return {
        "utterances": len(lines),
        "dialogues": len({line["dialogue"] for line in lines}),
        **scores,
        "leaked_lines": len(leaked_lines),
        "utterances_per_s_one_core": round(rate),
    }


def main() -> None:
    print(
        json.dumps({"benchmark": "redaction_es", **report(Redactor(RedactionOptions()))}, indent=1, ensure_ascii=False)
    )


if __name__ == "__main__":
    main()
