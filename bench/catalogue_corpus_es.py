"""The Spanish corpus's dialogues for the catalogue's entities (part of bench/redaction_corpus_es.py's build):
names, addresses, ZIPs, account, bank, routing, license and passport numbers, security answers, and the ids of
es-US callers (Mexican CURP and RFC, Spanish DNI and NIE), each asked for by the agent or volunteered after a cue,
in the forms Whisper writes in Spanish: digits, number words, letters one by one or by their Spanish names.

Names and streets come from Faker's es_MX provider (seeded); ids carry valid checksums (python-stdnum). A
secret is what must not survive: the words of a name or street (any one of them left is a leak), the digits of a
number or id.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from faker import Faker
from num2words import num2words
from stdnum.es import dni, nie
from stdnum.mx import curp
from stdnum.us import rtn

from redaction.catalogue_es import LETTER_NAMES

Label = dict[str, str]
Turns = list[tuple[str, str, list[Label]]]
DIGITS = [str(num2words(d, lang="es")) for d in range(10)]
LETTER_SAID = {letter: name for name, letter in LETTER_NAMES.items() if name not in ("ere", "seta")}


class Said:
    """How a caller reads a code out, as Whisper writes it."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def code(self, code: str) -> str:
        form = self.rng.choice(["written", "spaced", "words", "letter_names", "groups"])
        if form == "written":
            return code
        if form == "groups":
            return " ".join(code[i : i + 4] for i in range(0, len(code), 4))
        said = []
        for c in code:
            if c.isdigit():
                said.append(DIGITS[int(c)] if form in ("words", "letter_names") else c)
            else:
                said.append(LETTER_SAID.get(c, c) if form == "letter_names" else c)
        return " ".join(said)

    def number(self, digits: str) -> str:
        form = self.rng.choice(["written", "spaced", "words", "mixed"])
        if form == "written":
            return digits
        return " ".join(
            DIGITS[int(d)] if form == "words" or (form == "mixed" and self.rng.random() < 0.5) else d for d in digits
        )


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def _letters(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(n))


def curp_id(rng: random.Random) -> str:
    body = f"{_letters(rng, 4)}{rng.randint(50, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body += f"{rng.choice('HM')}{rng.choice(['DF', 'JC', 'NL', 'CM'])}{_letters(rng, 3)}0"
    return body + curp.calc_check_digit(body)


def rfc_id(rng: random.Random) -> str:
    return f"{_letters(rng, 4)}{rng.randint(50, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}" + (
        f"{_letters(rng, 2)}{rng.randrange(10)}"
    )


def dni_id(rng: random.Random) -> str:
    body = _digits(rng, 8)
    return body + dni.calc_check_digit(body)


def nie_id(rng: random.Random) -> str:
    body = rng.choice("XYZ") + _digits(rng, 7)
    return body + nie.calc_check_digit(body)


def routing(rng: random.Random) -> str:
    body = rng.choice("0123") + _digits(rng, 7)
    return body + rtn.calc_check_digit(body)


def numbers(secret: str) -> str:
    return "".join(c for c in secret if c.isdigit())


# (entity, the agent's questions, the caller's answers with {v} after a cue, the value: (as said, secret))
Maker = Callable[[Said, Faker], tuple[str, str]]


def secret_words(text: str) -> str:
    """The words of a name that must not survive: not "de", "la", "del" of "María de la Cruz"."""
    return " ".join(w for w in text.split() if w[:1].isupper() or w.isdigit())


def _name(said: Said, fake: Faker) -> tuple[str, str]:
    name = f"{fake.first_name()} {fake.last_name()}"
    return name, secret_words(name)


def _address(said: Said, fake: Faker) -> tuple[str, str]:
    street = said.rng.choice([fake.last_name(), f"{fake.first_name()} {fake.last_name()}"])
    number = str(said.rng.randint(1, 9999))
    kind = said.rng.choice(["calle", "avenida", "Calle", "Avenida"])
    colonia = said.rng.choice(["Centro", "Del Valle", "Roma Norte", "Las Águilas", "Jardines", "Santa Fe"])
    tail = said.rng.choice(["", f", colonia {colonia}", f" colonia {colonia}, código postal {postcode(said.rng)}"])
    secret = secret_words(" ".join([street, number, colonia if tail else ""]))
    return f"{kind} {street} número {said.number(number)}{tail}", secret


def postcode(rng: random.Random) -> str:
    return f"{rng.randint(1000, 99999):05d}"


def _zip(said: Said, fake: Faker) -> tuple[str, str]:
    code = postcode(said.rng)
    return said.number(code), code


def _code(make: Callable[[random.Random], str]) -> Maker:
    def maker(said: Said, fake: Faker) -> tuple[str, str]:
        code = make(said.rng)
        return said.code(code), numbers(code)

    return maker


def _number(n_low: int, n_high: int, prefix: str = "") -> Maker:
    def maker(said: Said, fake: Faker) -> tuple[str, str]:
        digits = _digits(said.rng, said.rng.randint(n_low, n_high))
        return (f"{prefix} " if prefix else "") + said.number(digits), digits

    return maker


def _routing(said: Said, fake: Faker) -> tuple[str, str]:
    digits = routing(said.rng)
    return said.number(digits), digits


def _maiden(said: Said, fake: Faker) -> tuple[str, str]:
    name = fake.last_name()
    return name, secret_words(name)


CASES: list[tuple[str, tuple[str, ...], tuple[str, ...], Maker]] = [
    ("NAME", ("¿Me da su nombre completo, por favor?", "¿Con quién tengo el gusto?", "¿a nombre de quién está?"),
     ("Me llamo {v}.", "Mi nombre es {v}.", "Sí, soy {v}.", "{v}.", "La cuenta está a nombre de {v}."), _name),
    ("ADDRESS", ("¿Cuál es la dirección de la cuenta?", "¿Me confirma su domicilio?"),
     ("Vivo en la {v}.", "Mi dirección es {v}.", "Es {v}.", "{v}."), _address),
    ("ZIP", ("¿Y el código postal?",), ("El código postal es {v}.", "Es el {v}.", "código postal {v}"), _zip),
    ("ACCOUNT_NUMBER", ("¿Me da su número de cuenta?", "¿Cuál es su número de póliza?"),
     ("Mi número de cuenta es {v}.", "Es {v}.", "el número de póliza es {v}"), _number(8, 10)),
    ("BANK_ACCOUNT_NUMBER", ("¿Cuál es el número de su cuenta de cheques?",),
     ("Mi cuenta de cheques es la {v}.", "Es {v}.", "la cuenta del banco es {v}"), _number(8, 12)),
    ("BANK_ROUTING_NUMBER", ("¿Y el número de ruta del banco?",),
     ("El número de ruta es {v}.", "Es {v}.", "la ruta es {v}"), _routing),
    ("DRIVER_LICENSE", ("¿Me da el número de su licencia de conducir?",),
     ("Mi licencia de conducir es {v}.", "Es {v}.", "licencia de manejo {v}"),
     _code(lambda rng: rng.choice("ABCDGHJKLMNPRSTW") + _digits(rng, 7))),
    ("PASSPORT_NUMBER", ("¿Cuál es su número de pasaporte?",),
     ("Mi pasaporte es {v}.", "Es {v}.", "el número del pasaporte es {v}"),
     _code(lambda rng: rng.choice("GN") + _digits(rng, 8))),
    ("SECURITY_ANSWER", ("¿Cuál es el apellido de soltera de su madre?", "¿Cuál es el nombre de su primera mascota?"),
     ("{v}.", "Es {v}.", "Creo que es {v}.", "El apellido de soltera de mi madre es {v}.",
      "El nombre de mi primera mascota era {v}."), _maiden),
    ("MX_CURP", ("¿Me da su CURP?",), ("Mi CURP es {v}.", "Es {v}.", "la curp es {v}"), _code(curp_id)),
    ("MX_RFC", ("¿Y su RFC?",), ("Mi RFC es {v}.", "Es {v}.", "el rfc es {v}"), _code(rfc_id)),
    ("ES_DNI", ("¿Su DNI, por favor?",), ("Mi DNI es {v}.", "Es {v}.", "el dni es {v}"), _code(dni_id)),
    ("ES_NIE", ("¿Cuál es su NIE?",), ("Mi NIE es {v}.", "Es {v}.", "el número de extranjero es {v}"),
     _code(nie_id)),
]  # fmt: skip
PER_ENTITY = 14


def catalogue_dialogues(rng: random.Random, dialog: Callable[[Turns], None]) -> None:
    """Each entity asked for, or volunteered after its cue; a name comes back later in the call."""
    fake = Faker("es_MX")
    fake.seed_instance(rng.randrange(2**32))
    said = Said(rng)
    for entity, questions, answers, make in CASES:
        for i in range(PER_ENTITY):
            value, secret = make(said, fake)
            label = [{"entity": entity, "secret": secret}]
            asked = i % 2 == 0
            template = (
                rng.choice(answers)
                if asked
                else rng.choice([a for a in answers if not a.startswith(("{", "Es ", "Creo"))])
            )
            turns: Turns = [("agent", rng.choice(questions), [])] if asked else []
            turns.append(("customer", template.replace("{v}", value), label))
            if entity == "NAME":  # remembered: the agent and the caller say it again
                last = secret.split()[-1]
                turns.append(("agent", f"Gracias, {rng.choice(['señor', 'señora'])} {last}. ¿En qué le ayudo?",
                              [{"entity": "NAME", "secret": last}]))  # fmt: skip
                turns.append(
                    ("customer", f"Quiero pagar, {last.lower()} es mi apellido.", [{"entity": "NAME", "secret": last}])
                )
            turns.append(("agent", "Gracias, ya lo tengo.", []))
            dialog(turns)
