"""Two-party PCI context at text level: the agent's question as an ASR writes it (no punctuation, misheard
keywords, split in two) opens the context, and the customer's answer is masked in any spacing
(bench/corpus/pci_questions.jsonl)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench import pci_questions
from bench.pci_garbling import visible_digits
from bench.pci_questions import OUT
from redaction.context import ConversationContext
from redaction.entities import default_active
from redaction.redactor import RedactionOptions, Redactor

REDACTOR = Redactor(RedactionOptions())
CORPUS = [json.loads(line) for line in OUT.read_text().splitlines()]


def answer_to(questions: list[str], answers: list[str]) -> list[str]:
    return pci_questions.answer_to(REDACTOR, questions, answers)


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 300
    assert {line["entity"] for line in CORPUS} == {"CVV", "PIN", "CREDIT_CARD_NUMBER", "SSN"}
    assert sum(len(line["questions"]) == 2 for line in CORPUS) >= 30
    assert sum(len(line["answers"]) == 2 for line in CORPUS) >= 30
    assert sum("?" not in line["questions"][-1] for line in CORPUS) >= 150


@pytest.mark.parametrize("line", CORPUS, ids=[f"{line['id']}-{line['entity']}" for line in CORPUS])
def test_every_answer_is_masked(line: dict[str, Any]) -> None:
    assert pci_questions.leaks(REDACTOR, line) is None


@pytest.mark.parametrize(
    ("questions", "answers"),
    [
        (["And the security code on the back."], ["5 6 1"]),  # the period, not a question mark
        (["and the security code on the pack"], ["561"]),
        (["What is the PIN on the account?"], ["9 8 1 3"]),
        (["what's the pen number"], ["878 787"]),
        (["And the security code on the back?"], ["3 to 5 6"]),
        (["And the security code"], ["8500"]),
        (["can I get the security"], []),
        (["the Phil card number please"], ["4111 1111 1111 1111 561"]),  # a card and its CVV in one breath
        (["And the", "security code on the back"], ["5 6", "1"]),  # both split in two
    ],
)
def test_the_reported_leaks(questions: list[str], answers: list[str]) -> None:
    assert visible_digits(" ".join(answer_to(questions, answers))) == ""


def test_a_question_that_names_no_secret_opens_nothing() -> None:
    assert answer_to(["How many items did you order?"], ["5 6 1"]) == ["5 6 1"]


@pytest.mark.parametrize(
    ("said", "last_four"),
    [
        (["My card number is", "4 1 0 4", "3 3 2 1", "8 1 9 6", "0 0 1 8"], "0018"),  # groups 900 ms apart
        (["My card, I'm very...", "4 1 0 4", "3 3 2 1", "8 1 9 6", "0 0 1 8"], "0018"),  # espeak-ng's "number is"
        (["my security code is", "5 6 1"], ""),
    ],
)
def test_a_speaker_naming_their_own_card_then_reading_it_in_groups_leaks_no_digit(
    said: list[str], last_four: str
) -> None:
    """Only a whole card's last four may show (the reference's mask); before this, each group showed."""
    context, active = ConversationContext(), default_active()
    shown = [REDACTOR.redact(text, "customer", active, context, now=i * 1.5).text for i, text in enumerate(said)]
    assert visible_digits(" ".join(shown)) in {"", last_four}, shown
    assert visible_digits(" ".join(shown[:-1])) == "", shown


def test_naming_another_kind_of_number_announces_no_secret() -> None:
    context, active = ConversationContext(), default_active()
    said = ["My order number is", "5 6 1 2"]
    shown = [REDACTOR.redact(text, "customer", active, context, now=i * 1.5).text for i, text in enumerate(said)]
    assert shown[-1] == "5 6 1 2"
