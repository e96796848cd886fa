"""Writes bench/corpus/pci_garbling.jsonl: card numbers as an ASR garbles them, for the fail-safe PCI rule.

    python -m bench.pci_garbling

Each line is one reading: {"id", "shape", "question", "utterances", "secret", "heard", "last_four_allowed"}.
`question` is the agent's utterance before the reading (or null), `utterances` the customer's one or two
utterances as the ASR wrote them, `secret` the digits that were read. Nothing but the masks may stand for
the secret in the redacted output: no digit, no digit homophone, except the last four of what was heard
when that is a whole Luhn-valid card (`last_four_allowed`). The surrounding words hold no digit and no
homophone, so any one left in the output is a leak.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.redaction_corpus import card
from redaction.detectors import luhn_valid

OUT = Path(__file__).parent / "corpus" / "pci_garbling.jsonl"
HOMOPHONES = {"0": ["oh", "o"], "1": ["won"], "2": ["to", "too"], "3": ["tree", "free"], "4": ["for", "fore"]}
HOMOPHONES |= {"5": ["fine"], "6": ["sicks"], "8": ["ate"], "9": ["nein"]}
LEADS = ["", "Yes, ", "Sure, ", "Okay, it's ", "Yeah, ", "It is ", "Share the numbers ", "Right, so ", "Um, "]
LEADS += ["Go ahead and do ", "Let me see, ", "The number is ", "Yep, that's ", "Alright, "]
TAILS = ["", ".", "", " thanks", ".", " I think", ", that's it.", "", " is that right?"]
QUESTIONS = [
    None,
    None,
    "Can I have your credit card number please?",
    "What's the card number",
    "Go ahead with the number on the card.",
    "and the long number on the front",
]
WORD_DIGITS = {word: digit for digit, words in HOMOPHONES.items() for word in words}
WORD_DIGITS |= {w: str(d) for d, w in enumerate("zero one two three four five six seven eight nine".split())}
Shape = Callable[[str, random.Random], str]


def visible_digits(text: str) -> str:
    """Every digit `text` shows, written or as a word ("double 5" is 55)."""
    out, repeat = [], 1
    for word in re.findall(r"\d|[A-Za-z]+", text):
        if word.lower() == "double":
            repeat = 2
            continue
        digit = word if word.isdigit() else WORD_DIGITS.get(word.lower(), "")
        out.append(digit * repeat if digit else "")
        repeat = 1
    return "".join(out)


def leaks(line: dict[str, Any], outputs: list[str]) -> bool:
    """Whether the redacted `outputs` of a reading show any of its digits but a whole card's last four."""
    shown = "".join(visible_digits(text) for text in outputs)
    heard = str(line["heard"])
    return not (shown == "" or (line["last_four_allowed"] and shown == heard[-4:]))


def spaced(digits: str, rng: random.Random) -> str:
    return " ".join(digits)


def commas(digits: str, rng: random.Random) -> str:
    return ", ".join(digits)


def thousands(digits: str, rng: random.Random) -> str:
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return ",".join(parts)


def periods(digits: str, rng: random.Random) -> str:
    return ". ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def odd_groups(digits: str, rng: random.Random) -> str:
    out, i = [], 0
    while i < len(digits):
        size = rng.choice([1, 2, 3, 3, 4, 5])
        out.append(digits[i : i + size])
        i += size
    return rng.choice([" ", "-", " - "]).join(out)


def homophones(digits: str, rng: random.Random) -> str:
    words = [rng.choice(HOMOPHONES[d]) if d in HOMOPHONES and rng.random() < 0.5 else d for d in digits]
    return rng.choice([" ", ", "]).join(words)


def all_homophones(digits: str, rng: random.Random) -> str:
    return " ".join(rng.choice(HOMOPHONES.get(d, [d])) for d in digits)


def repeated(digits: str, rng: random.Random) -> str:
    out = []
    for d in digits:
        out.extend([d] * (2 if rng.random() < 0.3 else 1))
    return " ".join(out) if rng.random() < 0.5 else " ".join("".join(out[i : i + 3]) for i in range(0, len(out), 3))


def dropped(digits: str, rng: random.Random) -> str:
    keep = [d for d in digits if rng.random() > 0.15] or list(digits)
    return rng.choice([" ", ", "]).join("".join(keep[i : i + 4]) for i in range(0, len(keep), 4))


def words_between(digits: str, rng: random.Random) -> str:
    groups = [digits[i : i + 4] for i in range(0, len(digits), 4)]
    out = groups[0]
    for group in groups[1:]:
        out += rng.choice([" and ", ", uh, ", " um ", " and then ", ", ", " dash ", " uh "]) + group
    return out


def triples(digits: str, rng: random.Random) -> str:
    return " ".join(digits[i : i + 3] for i in range(0, len(digits), 3))


def first_heard_as_word(digits: str, rng: random.Random) -> str:
    head = rng.choice(HOMOPHONES.get(digits[0], [digits[0]]))
    return head + " " + rng.choice([spaced, triples, periods])(digits[1:], rng)


def doubled_words(digits: str, rng: random.Random) -> str:
    out, i = [], 0
    while i < len(digits):
        if i + 1 < len(digits) and digits[i] == digits[i + 1]:
            out.append(f"double {digits[i]}")
            i += 2
        else:
            out.append(digits[i])
            i += 1
    return " ".join(out)


ONE_UTTERANCE: dict[str, Shape] = {
    "spaced": spaced,
    "commas": commas,
    "thousands": thousands,
    "periods": periods,
    "odd_groups": odd_groups,
    "homophones": homophones,
    "all_homophones": all_homophones,
    "repeated": repeated,
    "dropped": dropped,
    "words_between": words_between,
    "triples": triples,
    "first_heard_as_word": first_heard_as_word,
    "doubled_words": doubled_words,
}


def secret_number(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.15:
        return rng.choice(["4111111111111111", "5555555555554444", "4104332181960018", "378282246310005"])
    if kind < 0.25:
        return "".join(rng.choice("0123456789") for _ in range(rng.randint(9, 20)))  # not a card at all
    return card(rng)


def reading(rng: random.Random, index: int) -> dict[str, Any]:
    """One reading; without a question, its first piece holds 8 digits or more as heard: shorter, and with
    nothing said before, it could as well be an order number (what follows it is caught as a card read on)."""
    while True:
        line = _reading(rng, index)
        if line["question"] is not None or len(visible_digits(line["utterances"][0])) >= 8:
            return line


def _reading(rng: random.Random, index: int) -> dict[str, Any]:
    secret = secret_number(rng)
    shape = rng.choice([*ONE_UTTERANCE, "two_utterances", "card_and_cvv"])
    question = rng.choice(QUESTIONS)
    if shape == "two_utterances":
        cut = min(rng.choice([8, 8, 9, 10]) if question is None else rng.choice([4, 8, 12]), len(secret) - 2)
        first, second = rng.choice(list(ONE_UTTERANCE.values())), rng.choice(list(ONE_UTTERANCE.values()))
        utterances = [rng.choice(LEADS) + first(secret[:cut], rng), second(secret[cut:], rng) + rng.choice(TAILS)]
        if len(secret) - cut < 8 and question is None:
            question = QUESTIONS[2]  # a short tail read alone is caught only as the rest of a card in progress
    elif shape == "card_and_cvv":
        cvv = "".join(rng.choice("0123456789") for _ in range(3))
        secret = card(rng) + cvv
        utterances = [rng.choice(LEADS) + rng.choice([spaced, triples, periods, commas])(secret, rng)]
    else:
        utterances = [rng.choice(LEADS) + ONE_UTTERANCE[shape](secret, rng) + rng.choice(TAILS)]
    heard = "".join(visible_digits(text) for text in utterances)
    return {
        "id": index,
        "shape": shape,
        "question": question,
        "utterances": utterances,
        "secret": secret,
        "heard": heard,  # the digits as the ASR wrote them: repeated, dropped, misheard
        "last_four_allowed": shape != "card_and_cvv" and 13 <= len(heard) <= 19 and luhn_valid(heard),
    }


def write_jsonl(path: Path, lines: list[dict[str, Any]], what: str) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    print(f"{len(lines)} {what} written to {path}")


def main() -> None:
    rng = random.Random(14)
    write_jsonl(OUT, [reading(rng, index) for index in range(260)], "readings")


if __name__ == "__main__":
    main()
