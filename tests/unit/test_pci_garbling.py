"""The fail-safe PCI rule against a corpus of card numbers as the ASR garbles them (bench/corpus/pci_garbling.jsonl)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.pci_garbling import OUT, leaks, visible_digits
from redaction.context import ConversationContext
from redaction.entities import EntityId, default_active
from redaction.itn import to_written
from redaction.redactor import RedactionOptions, Redactor

REDACTOR = Redactor(RedactionOptions())
CORPUS = [json.loads(line) for line in Path(OUT).read_text().splitlines()]


def redact_reading(line: dict[str, Any], active: frozenset[EntityId] = default_active()) -> list[str]:
    context = ConversationContext()
    if line["question"]:
        REDACTOR.redact(to_written(line["question"]), "agent", active, context, now=0.0)
    return [
        REDACTOR.redact(to_written(text), "customer", active, context, now=3.0 * (i + 1)).text
        for i, text in enumerate(line["utterances"])
    ]


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 200
    shapes = {line["shape"] for line in CORPUS}
    assert {"two_utterances", "card_and_cvv", "homophones", "dropped", "repeated", "words_between"} <= shapes


@pytest.mark.parametrize("line", CORPUS, ids=[f"{line['id']}-{line['shape']}" for line in CORPUS])
def test_no_digit_of_a_garbled_card_is_left(line: dict[str, Any]) -> None:
    outputs = redact_reading(line)
    assert not leaks(line, outputs), outputs
    assert any("#" in text for text in outputs)


@pytest.mark.parametrize(
    ("heard", "shown"),
    [
        ("It's 4, 1, 0, 4, 3, 3, 2, 1, 8, 1, 9, 6, 0, 0, 1, 8.", "0018"),
        ("4,104,332,181,960,018", "0018"),
        ("Share the numbers for 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", ""),
        ("Okay, it didn't 4 1 1 1 1 1 1 1 1 1 1 1", ""),
        ("Go ahead and do fine fine fine fine fine fine fine fine fine fine fine fine fine fine 4 4 4 4", ""),
        ("Yes, the number is for 111 111 111 111 111 111 111", ""),
        ("four one one one one one one one one one one one one one one one five six one", ""),  # card + CVV
        ("4111 1111 1111 1111 561", ""),
        ("4111 1111 1111 1111, 561", ""),
        # What tiny.en made of spoken card numbers in bench.card_clips:
        ("time time time time time time time time time time time time time time time time 4 4 4", ""),
        ("the number 4001 hungry then 11001 hungry then 11001", ""),
        ("It is $5,000, $55,000, $55,000, $55,000, $55,000, $55,000, $55,000, $55", ""),
        ("$5,955,000 $955,000 $955,44.", ""),
        ("6-o-on-w-on-one-o-on-000-000-001", ""),
        ("2 k it's 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", ""),
        ("The card in 3 emanate to 8222463, 1 near or near or near or time.", ""),  # "card" expects digits
        ("If $5,500, if $5,500, if $5,500, if $5,500, if $5,500, if $5,500, if", ""),
        ("thousand five hundred and fifty five four thousand four hundred and forty four", ""),
        ("It is 5,000 times hundred and fifty five thousand five hundred and fifty five thousand five", ""),
    ],
)
def test_the_reported_leaks_are_masked(heard: str, shown: str) -> None:
    out = REDACTOR.redact(to_written(heard), "customer", default_active(), ConversationContext()).text
    assert visible_digits(out) == shown, out


def test_a_card_split_over_two_utterances_is_masked_in_both() -> None:
    line = {"question": None, "utterances": ["My card number is 4 1 0 4, 3 3 2 1,", "8 1 9 6, 0 0 1 8."]}
    first, second = redact_reading(line)
    assert visible_digits(first) == "" and visible_digits(second) == "0018"


def test_the_rule_is_pci_and_goes_with_the_card_entity() -> None:
    line = {"question": None, "utterances": ["4, 1, 0, 4, 3, 3, 2, 1, 8, 1, 9, 6, 0, 0, 1, 8"]}
    assert visible_digits(redact_reading(line, default_active() - {EntityId.CREDIT_CARD_NUMBER})[0]) != "0018"


def test_the_last_four_named_as_such_and_a_price_stay_after_a_card_was_mentioned() -> None:
    line = {"question": "Which card would you like to use?", "utterances": ["The card ending in 2926.", "It's $295."]}
    assert redact_reading(line) == ["The card ending in 2926.", "It's $295."]
