"""Writes bench/corpus/redaction_corpus.jsonl: labelled customer/agent dialogues for the redaction benchmark.

    python -m bench.redaction_corpus

Each line is one utterance as the ASR would hand it over (written, spoken or misheard forms):
{"dialogue", "turn", "role", "text", "entities": [{"entity", "secret"}]}. `secret` is what must not survive:
the digits of a card but its last four, a whole CVV or PIN, an SSN but its last four, a password, an
e-mail's local part, a birth year, a profanity. Near-miss utterances (order numbers, prices, dates that are
not birth dates, times, quantities) carry no entities and must come out unchanged.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "corpus" / "redaction_corpus.jsonl"
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        candidate = body + check
        total = sum(
            (int(c) * 2 - 9 if int(c) * 2 > 9 else int(c) * 2) if i % 2 else int(c)
            for i, c in enumerate(reversed(candidate))
        )
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def card(rng: random.Random) -> str:
    kind = rng.choice(["visa", "visa", "mc", "amex", "discover"])
    if kind == "amex":
        return luhn_complete(rng.choice(["34", "37"]), 15, rng)
    if kind == "discover":
        return luhn_complete("6011", 16, rng)
    return luhn_complete("4" if kind == "visa" else rng.choice(["51", "52", "53", "54", "55"]), 16, rng)


def groups(digits: str) -> list[str]:
    if len(digits) == 15:
        return [digits[:4], digits[4:10], digits[10:]]
    return [digits[i : i + 4] for i in range(0, len(digits), 4)]


def say_digits(digits: str, rng: random.Random, garble: bool = False) -> str:
    words = []
    i = 0
    while i < len(digits):
        d = digits[i]
        if i + 1 < len(digits) and digits[i + 1] == d and rng.random() < 0.3:
            words.append(f"double {DIGIT_WORDS[int(d)]}")
            i += 2
            continue
        word = DIGIT_WORDS[int(d)]
        if d == "0" and rng.random() < 0.5:
            word = "oh"
        if garble and d == "4" and rng.random() < 0.6:
            word = "for"
        if garble and d == "2" and rng.random() < 0.4:
            word = "to"
        words.append(word)
        i += 1
    return " ".join(words)


def say_pairs(digits: str) -> str:
    out = []
    for i in range(0, len(digits) - 1, 2):
        pair = int(digits[i : i + 2])
        if digits[i] == "0":
            out.append(f"oh {DIGIT_WORDS[pair]}")
        elif pair < 10:
            out.append(DIGIT_WORDS[pair])
        elif pair < 20:
            out.append(TEENS[pair - 10])
        else:
            out.append(TENS[pair // 10] + ("" if pair % 10 == 0 else " " + DIGIT_WORDS[pair % 10]))
    if len(digits) % 2:
        out.append(DIGIT_WORDS[int(digits[-1])])
    return " ".join(out)


def spoken_card(digits: str, form: str, rng: random.Random) -> str:
    parts = groups(digits)
    if form == "written":
        return " ".join(parts)
    if form == "pairs":
        return ", ".join(say_pairs(p) for p in parts)
    return ", ".join(say_digits(p, rng, garble=form == "garbled") for p in parts)


class Corpus:
    def __init__(self, seed: int = 11) -> None:
        self.rng = random.Random(seed)
        self.lines: list[dict[str, Any]] = []
        self.dialogue = 0

    def dialog(self, turns: list[tuple[str, str, list[dict[str, str]]]]) -> None:
        self.dialogue += 1
        for index, (role, text, entities) in enumerate(turns):
            self.lines.append(
                {"dialogue": self.dialogue, "turn": index, "role": role, "text": text, "entities": entities}
            )

    def opening(self) -> list[tuple[str, str, list[dict[str, str]]]]:
        return [
            (
                "agent",
                self.rng.choice(
                    [
                        "Thank you for calling, how can I help you today?",
                        "Good morning, you're through to billing. What can I do for you?",
                    ]
                ),
                [],
            ),
            (
                "customer",
                self.rng.choice(
                    [
                        "Hi, I'd like to pay my bill.",
                        "I want to update my payment details.",
                        "Hello, I have a question about my order.",
                    ]
                ),
                [],
            ),
        ]


def card_dialogues(corpus: Corpus) -> None:
    rng = corpus.rng
    asks = [
        "Can I have the card number, please?",
        "What's the long number on the front of the card?",
        "Please read me your credit card number.",
        "Could you give me the sixteen digit card number?",
    ]
    for form in ["written", "spoken", "pairs", "garbled"] * 6:
        digits = card(rng)
        secret = digits[:-4]
        text = spoken_card(digits, form, rng)
        turns = corpus.opening() + [("agent", rng.choice(asks), [])]
        if rng.random() < 0.5:
            turns.append(("customer", f"Sure, it's {text}.", [{"entity": "CREDIT_CARD_NUMBER", "secret": secret}]))
        else:  # read out over several utterances, the pieces carrying no keyword
            parts = groups(digits)
            cut = rng.randint(1, len(parts) - 1)
            first = (
                " ".join(parts[:cut])
                if form == "written"
                else ", ".join(
                    say_digits(p, rng, form == "garbled") if form != "pairs" else say_pairs(p) for p in parts[:cut]
                )
            )
            rest = (
                " ".join(parts[cut:])
                if form == "written"
                else ", ".join(
                    say_digits(p, rng, form == "garbled") if form != "pairs" else say_pairs(p) for p in parts[cut:]
                )
            )
            turns.append(
                ("customer", f"Okay, {first}", [{"entity": "CREDIT_CARD_NUMBER", "secret": "".join(parts[:cut])}])
            )
            last_secret = "".join(parts[cut:])[:-4]  # the last four may stay visible: nothing to hide then
            turns.append(("customer", f"{rest}.", [{"entity": "CREDIT_CARD_NUMBER", "secret": last_secret}]))
        cvv = "".join(str(rng.randrange(10)) for _ in range(4 if digits.startswith("3") else 3))
        cvv_form = rng.choice(["written", "spoken", "spaced"])
        cvv_text = cvv if cvv_form == "written" else say_digits(cvv, rng) if cvv_form == "spoken" else " ".join(cvv)
        turns += [
            (
                "agent",
                rng.choice(
                    [
                        "Thank you. And the security code on the back?",
                        "What is the CVV, the three digits on the back?",
                        "Thanks. Could you tell me the verification code?",
                    ]
                ),
                [],
            ),
            (
                "customer",
                rng.choice([f"It's {cvv_text}.", f"{cvv_text}", f"The code is {cvv_text}."]),
                [{"entity": "CVV", "secret": cvv}],
            ),
            ("agent", f"Thank you, the payment of {rng.randint(20, 300)} dollars went through.", []),
            ("customer", "Great, thanks for your help.", []),
        ]
        corpus.dialog(turns)
    for _ in range(8):  # volunteered without being asked
        digits = card(rng)
        form = rng.choice(["written", "spoken", "garbled"])
        corpus.dialog(
            corpus.opening()
            + [
                (
                    "customer",
                    f"My card number is {spoken_card(digits, form, rng)}, and my CVV is "
                    f"{' '.join(str(rng.randrange(10)) for _ in range(3))}.",
                    [],
                ),
            ]
        )
        text = corpus.lines[-1]["text"]
        cvv = "".join(c for c in text.rsplit("CVV is", 1)[1] if c.isdigit())
        corpus.lines[-1]["entities"] = [
            {"entity": "CREDIT_CARD_NUMBER", "secret": digits[:-4]},
            {"entity": "CVV", "secret": cvv},
        ]


def pii_dialogues(corpus: Corpus) -> None:
    rng = corpus.rng
    for _ in range(14):
        pin = "".join(str(rng.randrange(10)) for _ in range(4))
        said = rng.choice([pin, say_digits(pin, rng), " ".join(pin)])
        corpus.dialog(
            corpus.opening()
            + [
                (
                    "agent",
                    rng.choice(
                        ["For security, what is your PIN?", "Can you confirm the four digit PIN on the account?"]
                    ),
                    [],
                ),
                (
                    "customer",
                    rng.choice([f"It's {said}.", f"{said}", f"My PIN is {said}."]),
                    [{"entity": "PIN", "secret": pin}],
                ),
                ("agent", "Thank you, you're verified.", []),
            ]
        )
    for _ in range(14):
        area, group, serial = (f"{rng.randint(1, 899):03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}")
        ssn = area + group + serial
        said = rng.choice([f"{area}-{group}-{serial}", f"{area} {group} {serial}", say_digits(ssn, rng)])
        corpus.dialog(
            corpus.opening()
            + [
                ("agent", rng.choice(["Can you verify your social security number?", "What's your SSN, please?"]), []),
                ("customer", f"Yes, it's {said}.", [{"entity": "SSN", "secret": ssn[:5]}]),
            ]
        )
        last4 = f"{rng.randint(0, 9999):04d}"
        corpus.dialog(
            corpus.opening()
            + [
                ("agent", "Can I have the last four of your social?", []),
                (
                    "customer",
                    rng.choice([f"{last4}", say_digits(last4, rng), f"It's {last4}."]),
                    [{"entity": "SSN", "secret": last4}],
                ),
            ]
        )
    passwords = ["qwer1234", "sunshine42", "tigerlily7", "Blue-Moon99", "hunter2", "p4ssw0rd", "maple2019", "zebra77"]
    for _ in range(14):
        password = rng.choice(passwords)
        if rng.random() < 0.5:
            turns = [
                ("agent", "Can you confirm your password?", []),
                (
                    "customer",
                    rng.choice([f"It's {password}.", f"{password}", f"Sure, {password}."]),
                    [{"entity": "PASSWORD", "secret": password.lower()}],
                ),
            ]
        else:
            turns = [
                (
                    "customer",
                    f"I tried logging in and my password is {password} but it fails.",
                    [{"entity": "PASSWORD", "secret": password.lower()}],
                )
            ]
        corpus.dialog(corpus.opening() + turns + [("agent", "Let me reset that for you.", [])])
    names = ["john dot smith", "jane underscore doe", "mike", "sarah dot lee", "tom dash baker"]
    domains = ["example dot com", "mail dot org", "company dot net"]
    for _ in range(10):
        local, domain = rng.choice(names), rng.choice(domains)
        written_local = local.replace(" dot ", ".").replace(" underscore ", "_").replace(" dash ", "-")
        spoken = rng.random() < 0.6
        text = f"{local} at {domain}" if spoken else f"{written_local}@{domain.replace(' dot ', '.')}"
        corpus.dialog(
            corpus.opening()
            + [
                ("agent", "What's the best email to send the receipt to?", []),
                (
                    "customer",
                    f"It's {text}.",
                    [{"entity": "EMAIL", "secret": written_local.replace(".", "").replace("_", "").replace("-", "")}],
                ),
            ]
        )
    for _ in range(12):
        digits = f"{rng.randint(200, 999)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        form = rng.choice(["dashed", "spoken", "parens"])
        text = (
            f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
            if form == "dashed"
            else f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
            if form == "parens"
            else ", ".join(say_digits(p, rng) for p in (digits[:3], digits[3:6], digits[6:]))
        )
        corpus.dialog(
            corpus.opening()
            + [
                ("agent", "What's a good callback number in case we get disconnected?", []),
                ("customer", f"You can reach me at {text}.", [{"entity": "PHONE_NUMBER", "secret": digits}]),
            ]
        )
    for _ in range(12):
        month, day, year = rng.choice(MONTHS), rng.randint(1, 28), rng.randint(1940, 2005)
        form = rng.choice(["written", "spoken", "numeric"])
        year_said = f"{TEENS[year // 100 - 10] if year < 2000 else 'two thousand'} " + (
            say_pairs(str(year % 100).zfill(2)) if year < 2000 else DIGIT_WORDS[year % 100]
        )
        text = (
            f"{month} {day}, {year}"
            if form == "written"
            else f"{month.lower()} {say_pairs(str(day)) if day >= 10 else DIGIT_WORDS[day]} {year_said}"
            if form == "spoken"
            else f"{MONTHS.index(month) + 1:02d}/{day:02d}/{year}"
        )
        corpus.dialog(
            corpus.opening()
            + [
                ("agent", "And what is your date of birth?", []),
                ("customer", f"It's {text}.", [{"entity": "DOB", "secret": str(year)}]),
            ]
        )
    for word in ["bullshit", "crap", "damn", "shit", "hell", "fucking"]:
        corpus.dialog(
            [
                (
                    "customer",
                    f"This is {word}, I have been waiting for an hour.",
                    [{"entity": "PROFANITY", "secret": word}],
                ),
                ("agent", "I'm sorry about the wait, let me help.", []),
            ]
        )


def hard_cases(corpus: Corpus) -> None:
    """What ASR does to numbers: a dropped or misheard digit, odd grouping, fillers, late answers."""
    rng = corpus.rng
    for _ in range(12):
        digits = card(rng)
        broken = list(digits)
        broken[rng.randrange(4, 12)] = str(rng.randrange(10))  # a misheard digit: Luhn may fail now
        text = rng.choice(
            [
                "-".join(groups("".join(broken))),
                "".join(broken[:8]) + " " + "".join(broken[8:]),
                "uh " + ", um, ".join(say_digits(g, rng) for g in groups("".join(broken))),
            ]
        )
        secret = "".join(broken)[:-4]
        corpus.dialog(
            corpus.opening()
            + [
                (
                    "agent",
                    rng.choice(
                        ["Go ahead with the card number when you're ready.", "What card number would you like to use?"]
                    ),
                    [],
                ),
                ("customer", "Hold on, let me get my wallet.", []),
                ("customer", f"Okay, {text}.", [{"entity": "CREDIT_CARD_NUMBER", "secret": secret}]),
                ("agent", "And the three digits on the back?", []),
                (
                    "customer",
                    f"{say_digits(cvv := ''.join(str(rng.randrange(10)) for _ in range(3)), rng)}",
                    [{"entity": "CVV", "secret": cvv}],
                ),
                ("customer", "I also moved on March 3, 2010, if that matters.", []),
            ]
        )
    for _ in range(10):  # long numbers that are not cards (Luhn fails) with no card talk around them
        while True:
            number = "".join(str(rng.randrange(10)) for _ in range(16))
            total = sum(
                (int(c) * 2 - 9 if int(c) * 2 > 9 else int(c) * 2) if i % 2 else int(c)
                for i, c in enumerate(reversed(number))
            )
            if total % 10:
                break
        corpus.dialog(
            [
                ("agent", "Do you have the reference number from the letter?", []),
                ("customer", f"Yes, the reference is {' '.join(groups(number))}.", []),
            ]
        )
        corpus.dialog(  # the number is named in the question only
            [
                ("agent", "What's the tracking number on the parcel?", []),
                ("customer", f"Yes, it's {' '.join(groups(number[::-1]))}.", []),
            ]
        )
    for _ in range(6):
        pin = "".join(str(rng.randrange(10)) for _ in range(4))
        corpus.dialog(
            [
                ("agent", "I'll need your PIN to continue.", []),
                (
                    "customer",
                    f"Uh, sure, it's double {DIGIT_WORDS[int(pin[0])]} {say_digits(pin[2:], rng)}.",
                    [{"entity": "PIN", "secret": pin[0] * 2 + pin[2:]}],
                ),
                ("customer", f"I have {rng.randint(2, 9)} accounts with you by the way.", []),
            ]
        )


def near_misses(corpus: Corpus) -> None:
    rng = corpus.rng
    templates = [
        lambda: f"My order number is {rng.randint(100000, 9999999)}.",
        lambda: f"The order number is {say_digits(str(rng.randint(100000, 999999)), rng)}.",
        lambda: f"It cost {rng.randint(5, 500)} dollars.",
        lambda: (
            f"That's {TENS[rng.randint(2, 9)]} {DIGIT_WORDS[rng.randint(1, 9)]} dollars and {rng.randint(10, 99)} cents."
        ),
        lambda: (
            f"The flight leaves on {rng.choice(MONTHS)} {rng.randint(1, 28)} at {rng.randint(1, 12)}:{rng.choice(['00', '15', '30', '45'])}."
        ),
        lambda: f"I ordered {rng.randint(2, 12)} items on {rng.choice(MONTHS)} {rng.randint(1, 28)}.",
        lambda: f"Your confirmation code is {rng.choice(['AB', 'QX', 'LM'])}{rng.randint(100, 999)}.",
        lambda: "It will take three to five business days.",
        lambda: f"I've been a customer since {rng.randint(1995, 2022)}.",
        lambda: f"The tracking number ends in {rng.randint(1000, 9999)}.",
        lambda: f"Room {rng.randint(100, 1999)}, on the {rng.choice(['second', 'third', 'fifth'])} floor.",
        lambda: "I'll call back at ten thirty tomorrow.",
        lambda: f"My account has {rng.randint(2, 5)} lines on it.",
        lambda: f"The invoice from {rng.choice(MONTHS)} was {rng.randint(40, 200)} dollars.",
        lambda: f"We have a {rng.randint(10, 50)} percent discount this week.",
        lambda: f"My zip code is {rng.randint(10000, 99999)}.",
        lambda: "Could you send me the card with the new terms?",
        lambda: "Which card would you like to use, the one on file?",
        lambda: f"I'd like to use the card ending in {rng.randint(1000, 9999)}.",
        lambda: f"It was delivered on {rng.choice(MONTHS)} the {rng.choice(['first', 'second', 'third'])}.",
    ]
    for _ in range(40):
        turns = [("agent", "Is there anything else I can help with?", [])]
        turns += [("customer", rng.choice(templates)(), []) for _ in range(3)]
        turns.append(("agent", rng.choice(templates)(), []))
        corpus.dialog(turns)


def main() -> None:
    corpus = Corpus()
    card_dialogues(corpus)
    pii_dialogues(corpus)
    hard_cases(corpus)
    near_misses(corpus)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text("".join(json.dumps(line) + "\n" for line in corpus.lines))
    labelled = sum(bool(line["entities"]) for line in corpus.lines)
    print(f"wrote {len(corpus.lines)} utterances in {corpus.dialogue} dialogues ({labelled} with entities) to {OUT}")


if __name__ == "__main__":
    main()
