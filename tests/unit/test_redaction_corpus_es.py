"""The Spanish redaction corpus (bench/corpus/redaction_corpus_es.jsonl): committed as its seeded generator
writes it, and no labelled secret in it survives formatting and redaction in Spanish."""

from __future__ import annotations

import json

from bench import redaction_corpus_es, redaction_es
from bench.redaction import score
from redaction.redactor import RedactionOptions, Redactor


def test_the_committed_corpus_is_what_the_generator_writes() -> None:
    corpus = redaction_corpus_es.build()
    assert corpus.lines == redaction_es.load()
    labelled = {e["entity"] for line in corpus.lines for e in line["entities"]}
    assert labelled == {"CREDIT_CARD_NUMBER", "CVV", "PIN", "SSN", "PASSWORD", "EMAIL", "PHONE_NUMBER", "DOB"}


def test_no_secret_of_the_spanish_corpus_leaks() -> None:
    lines = redaction_es.load()
    scores = score(lines, redaction_es.run(lines, Redactor(RedactionOptions())), redaction_es.leaked)
    leaks = [error for error in scores["errors"] if "entity" in error]
    assert leaks == [], json.dumps(leaks, ensure_ascii=False)


def test_the_leak_check_reads_spanish_number_words() -> None:
    assert redaction_es.leaked("4111", "es cuatro uno uno uno")
    assert redaction_es.leaked("4111", "es 4 uno 11")
    assert not redaction_es.leaked("4111", "es #### 1234")
