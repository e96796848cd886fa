"""Writes bench/corpus/pci_questions.jsonl: an agent's question for a secret as an ASR writes it, then the
customer's answer in one of many spacings, for the two-party PCI context.

    python -m bench.pci_questions

Each line: {"id", "entity", "questions", "answers", "secret"}. `questions` are the agent's one or two
utterances (no punctuation, lower case, misheard keywords, a question split in two), `answers` the
customer's one or two (the secret spaced, comma-separated, as words or mixed, split over two utterances).
No digit of the secret may be left in the redacted answers; the answers hold no other digit or homophone.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from bench.pci_garbling import visible_digits, write_jsonl
from bench.redaction_corpus import card
from redaction.context import ConversationContext
from redaction.detectors import is_card_ending_here
from redaction.entities import default_active
from redaction.itn import to_written
from redaction.redactor import Redactor

OUT = Path(__file__).parent / "corpus" / "pci_questions.jsonl"
WORDS = "zero one two three four five six seven eight nine".split()

QUESTIONS = {
    "CVV": [
        "And the security code on the back?",
        "And the security code on the pack.",
        "What's the three digit code on the back of the card",
        "Can I get the CVV please",
        "and the see vee vee",
        "And the C.V.V.?",
        "the three digits on the back please",
        "What is the verification code",
        "Last thing, the security code.",
        "okay and the CVC on the back",
        "and the security number on the back of your card",
        "Can you read me the 3 digit code",
    ],
    "PIN": [
        "What is the PIN on the account?",
        "What is the PIN on the account.",
        "can you give me your pin number",
        "and your 4 digit pin",
        "what's the pen number",
        "I'll need the PIN to verify",
        "Please enter or say your PIN",
        "Could you confirm the pin code for me",
    ],
    "CREDIT_CARD_NUMBER": [
        "Can I have your credit card number please?",
        "what's the Phil card number",
        "go ahead with the card number",
        "read me the long number on the front of the card",
        "And the card number.",
        "the number on your debit card",
        "okay what's the full card number",
        "and the expiration date on the card",
    ],
    "SSN": [
        "What are the last four of your social?",
        "can I get your social security number",
        "and your SSN please",
        "I'll need your social to verify the account",
    ],
}
FILLERS = ["", "", "Okay. ", "Alright, ", "Thank you. ", "Perfect. ", "Great, "]
ANSWER_LEADS = ["", "", "Sure, ", "Yes, ", "Yeah it's ", "It is ", "Um, ", "Okay, ", "That's "]
ANSWER_TAILS = ["", ".", "", " thanks", ".", ", that's it."]


def secret_for(entity: str, rng: random.Random) -> str:
    if entity == "CREDIT_CARD_NUMBER":
        return card(rng)
    length = {"CVV": rng.choice([3, 3, 4]), "PIN": rng.choice([4, 4, 6]), "SSN": rng.choice([4, 9])}[entity]
    return "".join(rng.choice("0123456789") for _ in range(length))


def spaced(secret: str, rng: random.Random) -> str:
    """The secret in one of the spacings Whisper writes: whole, spaced, commas, words, mixed, pairs."""
    style = rng.choice(["whole", "spaced", "commas", "words", "mixed", "pairs", "dashes"])
    if style == "whole":
        return secret
    if style == "spaced":
        return " ".join(secret)
    if style == "commas":
        return ", ".join(secret)
    if style == "words":
        return " ".join(WORDS[int(d)] for d in secret)
    if style == "mixed":
        return " ".join(WORDS[int(d)] if rng.random() < 0.5 else d for d in secret)
    if style == "pairs":
        return " ".join(secret[i : i + 2] for i in range(0, len(secret), 2))
    return "-".join(secret)


def garble(question: str, rng: random.Random) -> str:
    """What the ASR may make of the agent's question: no punctuation, no capitals."""
    if rng.random() < 0.5:
        question = "".join(c for c in question if c not in "?.,!")
    if rng.random() < 0.4:
        question = question.lower()
    return question


def split(text: str, rng: random.Random) -> list[str]:
    words = text.split()
    if len(words) < 4 or rng.random() < 0.7:
        return [text]
    cut = rng.randrange(2, len(words) - 1)
    return [" ".join(words[:cut]), " ".join(words[cut:])]


def line(index: int, rng: random.Random) -> dict[str, Any]:
    entity = rng.choice(list(QUESTIONS))
    question = rng.choice(FILLERS) + garble(rng.choice(QUESTIONS[entity]), rng)
    secret = secret_for(entity, rng)
    if len(secret) >= 3 and rng.random() < 0.25:  # the answer spread over two utterances
        cut = rng.randrange(1, len(secret))
        answers = [rng.choice(ANSWER_LEADS) + spaced(secret[:cut], rng), spaced(secret[cut:], rng)]
    else:
        answers = [rng.choice(ANSWER_LEADS) + spaced(secret, rng) + rng.choice(ANSWER_TAILS)]
    return {"id": index, "entity": entity, "questions": split(question, rng), "answers": answers, "secret": secret}


def answer_to(redactor: Redactor, questions: list[str], answers: list[str]) -> list[str]:
    """The customer's answers as redaction leaves them after the agent's questions, 2 s apart, default entities."""
    context, now = ConversationContext(), 0.0
    for question in questions:
        redactor.redact(to_written(question), "agent", default_active(), context, now=now)
        now += 2.0
    out = []
    for answer in answers:
        out.append(redactor.redact(to_written(answer), "customer", default_active(), context, now=now).text)
        now += 2.0
    return out


def allowed_to_show(line: dict[str, Any]) -> set[str]:
    """Nothing, or the last four of a whole SSN (as the reference shows it) or of a whole card."""
    secret = line["secret"]
    whole = (line["entity"] == "SSN" and len(secret) == 9) or is_card_ending_here(secret)
    return {"", secret[-4:]} if whole else {""}


def leaks(redactor: Redactor, line: dict[str, Any]) -> list[str] | None:
    """The redacted answers of `line` when they show a digit they may not, else None."""
    out = answer_to(redactor, line["questions"], line["answers"])
    return out if visible_digits(" ".join(out)) not in allowed_to_show(line) else None


def main() -> None:
    rng = random.Random(24)
    write_jsonl(OUT, [line(index, rng) for index in range(320)], "question and answer pairs")


if __name__ == "__main__":
    main()
