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
    nine = {"CREDIT_CARD_NUMBER", "CVV", "PIN", "SSN", "PASSWORD", "EMAIL", "PHONE_NUMBER", "DOB"}
    catalogue = {"NAME", "ADDRESS", "ZIP", "ACCOUNT_NUMBER", "BANK_ACCOUNT_NUMBER", "BANK_ROUTING_NUMBER"}
    ids = {"DRIVER_LICENSE", "PASSPORT_NUMBER", "SECURITY_ANSWER", "MX_CURP", "MX_RFC", "ES_DNI", "ES_NIE"}
    assert labelled == nine | catalogue | ids


def test_no_secret_of_the_spanish_corpus_leaks() -> None:
    lines = redaction_es.the_nine(redaction_es.load())
    scores = score(lines, redaction_es.run(lines, Redactor(RedactionOptions())), redaction_es.leaked)
    leaks = [error for error in scores["errors"] if "entity" in error]
    assert leaks == [], json.dumps(leaks, ensure_ascii=False)


def test_no_secret_leaks_with_every_entity_on_and_names_are_precise() -> None:
    """Names, addresses, account and id numbers said in Spanish, with every entity on: none survives, and no
    caller's or agent's word is masked as a name that is none (the English model took "Qué" for one)."""
    report = redaction_es.catalogue(redaction_es.load(), Redactor(RedactionOptions()))
    leaks = [error for error in report["errors"] if "entity" in error]
    assert leaks == [], json.dumps(leaks, ensure_ascii=False)
    for entity in ("NAME", "ADDRESS", "MX_CURP", "MX_RFC", "ES_DNI", "ES_NIE"):
        assert report["per_entity"][entity]["precision"] >= 0.95, entity


def test_the_leak_check_reads_each_word_of_a_name() -> None:
    assert redaction_es.leaked("María López", "me llamo ##### lopez")
    assert not redaction_es.leaked("María López", "me llamo ##### #####")
    assert not redaction_es.leaked("Ana", "hasta mañana")  # a word, not letters inside another


def test_the_leak_check_reads_spanish_number_words() -> None:
    assert redaction_es.leaked("4111", "es cuatro uno uno uno")
    assert redaction_es.leaked("4111", "es 4 uno 11")
    assert not redaction_es.leaked("4111", "es #### 1234")
