"""Generates the catalogue corpus: caller and agent utterances in the form Whisper writes after smart formatting,
each labelled with the spans of the entities it holds (bench/corpus/breadth_corpus.jsonl).

    python -m bench.breadth_corpus     # seeded: the same file every run (needs Faker, a dev dependency)
    python -m bench.breadth_corpus --seed 7 --out /tmp/held_out.jsonl   # a held-out corpus, same shapes

A dialogue is one or two lines: a question, then the answer, as a call has them. A fifth of the callers speak in
lower case (capitalisation is unreliable); ids come as Whisper writes them read out: grouped, digit by digit, or
letter by letter. Lines without any entity are ordinary contact-centre talk, numbers included.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from faker import Faker
from stdnum import luhn
from stdnum.es import dni, nie
from stdnum.mx import curp
from stdnum.us import rtn

OUT = Path(__file__).parent / "corpus" / "breadth_corpus.jsonl"
SEED = 25
rnd = random.Random(SEED)
fake = Faker("en_US")
fake.seed_instance(SEED)
Maker = Callable[[], tuple[str, str]]  # (entity id, value as spoken)


def spaced(code: str) -> str:
    """How Whisper writes an id read character by character, or in groups, or as one token."""
    style = rnd.random()
    if style < 0.4:
        return code
    if style < 0.75:
        return " ".join(code)
    size = rnd.choice((3, 4))
    return " ".join(code[i : i + size] for i in range(0, len(code), size))


def _digits(n: int) -> str:
    return "".join(rnd.choice("0123456789") for _ in range(n))


def _letters(n: int, alphabet: str = "ABCDEFGHJKLMNPRSTUVWXYZ") -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


def routing() -> str:
    body = rnd.choice("0123") + _digits(7)
    return body + rtn.calc_check_digit(body)


def npi() -> str:
    body = "1" + _digits(8)
    return body + luhn.calc_check_digit("80840" + body)


def mbi() -> str:
    a = "ACDEFGHJKMNPQRTUVWXY"
    return f"{rnd.randint(1, 9)}{_letters(1, a)}{_letters(1, a)}{_digits(1)}{_letters(1, a)}{_letters(1, a)}" + (
        f"{_digits(1)}{_letters(2, a)}{_digits(2)}"
    )


def curp_id() -> str:
    body = f"{_letters(4, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')}{rnd.randint(50, 99)}{rnd.randint(1, 12):02d}"
    body += f"{rnd.randint(1, 28):02d}{rnd.choice('HM')}{rnd.choice(['DF', 'JC', 'NL', 'CM'])}"
    body += f"{_letters(3, 'BCDFGHJKLMNPQRSTVWXYZ')}0"
    return body + curp.calc_check_digit(body)


def rfc_id() -> str:
    return (
        f"{_letters(4)}{rnd.randint(50, 99)}{rnd.randint(1, 12):02d}{rnd.randint(1, 28):02d}{_letters(2)}{_digits(1)}"
    )


def dni_id() -> str:
    body = _digits(8)
    return body + dni.calc_check_digit(body)


def nie_id() -> str:
    body = rnd.choice("XYZ") + _digits(7)
    return body + nie.calc_check_digit(body)


def card() -> str:
    body = "4" + _digits(14)
    return body + luhn.calc_check_digit(body)


# (entity, question the agent may ask first, templates with {v}, value maker)
CASES: list[tuple[str, str, tuple[str, ...], Callable[[], str]]] = [
    ("NAME", "Can I have your full name please?", ("Hi, this is {v}.", "My name is {v}.", "Sure, it's {v}.",
     "{v}.", "yeah my name is {v} and I have a question about my bill"), lambda: fake.name()),
    ("ADDRESS", "What's the address on the account?", ("It's {v}.", "my address is {v}", "I live at {v}.",
     "sure {v}"), lambda: address()),
    ("ZIP", "And the zip code?", ("the zip code is {v}", "it's {v}", "zip code {v}"), lambda: fake.zipcode()),
    ("BANK_ROUTING_NUMBER", "What's the routing number?", ("the routing number is {v}", "routing {v}",
     "it's {v}"), lambda: spaced(routing())),
    ("BANK_ACCOUNT_NUMBER", "And the checking account number?", ("my checking account number is {v}",
     "the bank account is {v}", "it's {v}"), lambda: spaced(_digits(rnd.randint(8, 12)))),
    ("IBAN", "", ("my IBAN is {v}", "please send it to {v}", "the IBAN is {v} thanks"), lambda: spaced(fake.iban())),
    ("SWIFT_BIC", "", ("the swift code is {v}", "BIC {v}"), lambda: fake.swift()),
    ("ACCOUNT_NUMBER", "Can I get your policy number?", ("my policy number is {v}", "sure it's {v}",
     "the account number is {v}"), lambda: spaced(_letters(2) + _digits(7))),
    ("DRIVER_LICENSE", "Can you read me your driver's license number?", ("my driver's license is {v}",
     "it's {v}", "license number {v}"), lambda: spaced(_letters(1) + _digits(7))),
    ("PASSPORT_NUMBER", "", ("my passport number is {v}", "passport {v}"), lambda: spaced(_digits(9))),
    ("ITIN", "", ("my ITIN is {v}", "the taxpayer id is {v}"), lambda: fake.itin()),
    ("EIN", "", ("our EIN is {v}", "the employer identification number is {v}"), lambda: fake.ein()),
    ("MEDICARE_MBI", "", ("my Medicare number is {v}", "the MBI is {v}", "it's {v}"), lambda: spaced(mbi())),
    ("NPI", "", ("the provider NPI is {v}", "NPI {v}"), lambda: spaced(npi())),
    ("VIN", "", ("the VIN is {v}", "my vin is {v}", "it's {v} on the dashboard"), lambda: spaced(fake.vin())),
    ("LICENSE_PLATE", "", ("my license plate is {v}", "the plate number is {v}"), lambda: fake.license_plate()),
    ("MX_CURP", "", ("mi CURP is {v}", "my CURP is {v}", "{v}"), lambda: spaced(curp_id())),
    ("MX_RFC", "", ("my RFC is {v}", "the RFC is {v}"), lambda: rfc_id()),
    ("ES_DNI", "", ("my DNI is {v}", "DNI {v}", "{v}"), lambda: spaced(dni_id())),
    ("ES_NIE", "", ("my NIE is {v}", "it's {v}"), lambda: spaced(nie_id())),
    ("IP_ADDRESS", "", ("my IP address is {v}", "it shows {v} on the router"), lambda: fake.ipv4()),
    ("MAC_ADDRESS", "", ("the MAC address is {v}",), lambda: fake.mac_address()),
    ("USERNAME", "", ("my username is {v}", "the user name is {v} I think"), lambda: fake.user_name()),
    ("URL", "", ("I was on {v} when it failed", "go to {v}"), lambda: fake.domain_name()),
    ("CREDIT_CARD_NUMBER", "Can I have the card number?", ("it's {v}", "my card number is {v}"),
     lambda: spaced(card())),
    ("SSN", "", ("my social is {v}", "social security number {v}"), lambda: fake.ssn()),
    ("SECURITY_ANSWER", "What is your mother's maiden name?", ("{v}", "it's {v}"), lambda: fake.last_name()),
    ("AGE", "", ("I'm {v} years old", "my father is {v} years old"), lambda: str(rnd.randint(18, 95))),
]  # fmt: skip

PLAIN = (
    "I want to cancel my subscription please.", "Okay, thank you so much, have a great day.",
    "Can you hold on for a second?", "I've been waiting for {n} minutes already.", "It costs ${n} a month.",
    "I ordered {n} boxes last week and only got two.", "The internet has been down since Monday.",
    "Let me check that for you.", "Is there anything else I can help you with today?", "No, that's all, thanks.",
    "I was charged twice this month.", "Can I speak to a supervisor?", "The app keeps crashing on my phone.",
    "I'd like to upgrade my plan.", "We're open until {n} pm on weekdays.", "Sorry, I didn't catch that.",
    "The technician never showed up yesterday.", "I'll send you a confirmation by email.",
    "It's been about {n} days since I called.", "Thanks for your patience.", "Yes, that's correct.",
    "How long will the refund take?", "About {n} to {n} business days.", "I think the router is broken.",
    "Could you explain the late fee?", "The package was left at the wrong door.", "Alright, I understand.",
    "My bill went up by {n} dollars.", "I bought the iPhone {n} Pro last week and it won't charge.",
    "Channel {n} hasn't worked since the update.", "The Samsung TV shows error code {n}.", "Version {n} of the app is slow.",
    "I have {n} kids and a dog, so evenings are busy.", "We paid {n}00 dollars for the whole package.",
    "Can you call me back after {n} pm?", "It said {n} percent off on the website.", "Press {n} on the keypad.",
    "The Netflix add-on costs {n} dollars.", "My Xbox keeps disconnecting from the Wi-Fi.",
    "Is the Premium plan better than the Basic one?", "I got two emails and a text about it.",
    "The first bill was fine, the second one was wrong.", "Level {n} of the support menu hung up on me.",
    "Amazon delivered it to the neighbor.", "Your Visa promotion ended on the {n}th?",
    "I've been a customer for {n} years.", "Do you have a store near me?", "I'll think about it and call back.", "Let me transfer you to billing.", "Is it going to cost anything?",
)  # fmt: skip


def address() -> str:
    street = fake.street_address().replace("Apt.", "apartment").replace("Suite", "suite")
    state = fake.state() if rnd.random() < 0.6 else fake.state_abbr()
    comma = ", " if rnd.random() < 0.5 else " "
    return f"{street}{comma}{fake.city()}{comma}{state} {fake.zipcode()}"


def utterance(entity: str, template: str, value: str) -> dict[str, Any]:
    lower = rnd.random() < 0.2
    text = template.replace("{v}", value)
    start = template.index("{v}")
    if lower:
        text = text.lower()
    return {
        "text": text,
        "role": "customer",
        "entities": [{"entity": entity, "start": start, "end": start + len(value)}],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rnd.seed(args.seed)
    fake.seed_instance(args.seed)
    lines: list[dict[str, Any]] = []
    for dialogue in range(1100):
        entity, question, templates, make = CASES[dialogue % len(CASES)]
        template = rnd.choice(templates)
        cueless = template.startswith(("{v}", "it's", "sure")) or entity in ("SECURITY_ANSWER", "NAME")
        if question and (cueless or rnd.random() < 0.5):
            lines.append({"dialogue": dialogue, "text": question, "role": "agent", "entities": []})
        line = utterance(entity, template, make())
        lines.append({"dialogue": dialogue, **line})
    for dialogue in range(1100, 1600):
        text = rnd.choice(PLAIN).replace("{n}", str(rnd.randint(2, 60)), 1).replace("{n}", str(rnd.randint(2, 9)))
        lines.append({"dialogue": dialogue, "text": text, "role": rnd.choice(["customer", "agent"]), "entities": []})
    args.out.write_text("".join(json.dumps(line) + "\n" for line in lines))
    print(f"{len(lines)} lines -> {args.out}")


if __name__ == "__main__":
    main()
