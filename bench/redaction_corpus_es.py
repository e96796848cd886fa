"""Writes bench/corpus/redaction_corpus_es.jsonl: labelled Spanish (es-US) dialogues for the redaction benchmark.

    python -m bench.redaction_corpus_es

The same form as the English corpus (bench/redaction_corpus.py): one utterance a line as Whisper would write
it in Spanish, {"dialogue", "turn", "role", "text", "entities": [{"entity", "secret"}]}. Numbers are spelled
by num2words (lang='es'), digit by digit, in pairs or as thousands; some lines lose their accents, and some
card readings carry the misspelt digits Whisper writes ("sinco", "quatro", "nuebe"). Near misses (order
numbers, prices, dates that are no birth dates, a card's last four) carry no entities of the nine. Then the
catalogue's entities (bench/catalogue_corpus_es.py): names, addresses, account and id numbers.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from num2words import num2words

from bench.catalogue_corpus_es import catalogue_dialogues
from bench.redaction_corpus import Corpus, card, groups
from redaction.numbers_es import fold

OUT = Path(__file__).parent / "corpus" / "redaction_corpus_es.jsonl"
DIGITS = [str(num2words(d, lang="es")) for d in range(10)]
MISSPELT = {"0": "sero", "4": "quatro", "5": "sinco", "9": "nuebe", "6": "seys"}
MONTHS = "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre".split()
Turns = list[tuple[str, str, list[dict[str, str]]]]
POSTCODE = re.compile(r"c[oó]digo postal es (\d{5})")


def words(number: int) -> str:
    return str(num2words(number, lang="es"))


def say_digits(digits: str, rng: random.Random, garble: bool = False) -> str:
    said = [MISSPELT[d] if garble and d in MISSPELT and rng.random() < 0.5 else DIGITS[int(d)] for d in digits]
    return " ".join(said)


def say_pairs(digits: str) -> str:
    pairs = [digits[i : i + 2] for i in range(0, len(digits), 2)]
    return " ".join(f"cero {DIGITS[int(p[1])]}" if p[0] == "0" and len(p) == 2 else words(int(p)) for p in pairs)


def say_group(group: str, form: str, rng: random.Random) -> str:
    if form == "pairs":
        return say_pairs(group)
    if form == "thousands" and len(group) == 4 and group[0] != "0":
        return words(int(group))  # "cuatro mil ciento once"
    return say_digits(group, rng, garble=form == "garbled")


def spoken_card(digits: str, form: str, rng: random.Random) -> str:
    if form == "written":
        return " ".join(groups(digits))
    return ", ".join(say_group(g, form, rng) for g in groups(digits))


def maybe_unaccented(text: str, rng: random.Random) -> str:
    """Whisper writes accents on most lines, not all."""
    if rng.random() >= 0.3:
        return text
    return "".join(fold(c) if c.isalpha() and not c.isupper() else c for c in text)


class SpanishCorpus(Corpus):
    def dialog(self, turns: Turns) -> None:
        super().dialog([(role, maybe_unaccented(text, self.rng), entities) for role, text, entities in turns])

    def opening(self) -> Turns:
        greeting = self.rng.choice(
            ["Gracias por llamar, ¿en qué le puedo ayudar?", "Buenos días, habla con facturación."]
        )
        reason = self.rng.choice(["Hola, quiero pagar mi factura.", "Quiero actualizar mi forma de pago."])
        return [("agent", greeting, []), ("customer", reason, [])]


def card_dialogues(corpus: SpanishCorpus) -> None:
    rng = corpus.rng
    asks = [
        "¿Me da el número de su tarjeta, por favor?",
        "¿Cuál es el número largo de la tarjeta?",
        "Por favor, léame el número de su tarjeta de crédito.",
        "¿Me podría dar los dieciséis dígitos de la tarjeta?",
    ]
    for form in ["written", "spoken", "pairs", "garbled", "thousands"] * 5:
        digits = card(rng)
        turns = corpus.opening() + [("agent", rng.choice(asks), [])]
        if rng.random() < 0.5:
            text = spoken_card(digits, form, rng)
            turns.append(("customer", f"Sí, es {text}.", [{"entity": "CREDIT_CARD_NUMBER", "secret": digits[:-4]}]))
        else:  # read out over two utterances, the second carrying no keyword
            parts = groups(digits)
            cut = rng.choice([n for n in range(1, len(parts)) if len("".join(parts[n:])) >= 8])  # 4 to hide
            first, rest = "".join(parts[:cut]), "".join(parts[cut:])
            said = [spoken_card(p, form, rng) if form != "written" else " ".join(groups(p)) for p in (first, rest)]
            turns.append(("customer", f"A ver, {said[0]}", [{"entity": "CREDIT_CARD_NUMBER", "secret": first}]))
            turns.append(("customer", f"{said[1]}.", [{"entity": "CREDIT_CARD_NUMBER", "secret": rest[:-4]}]))
        cvv = "".join(str(rng.randrange(10)) for _ in range(4 if digits.startswith("3") else 3))
        cvv_text = rng.choice([cvv, say_digits(cvv, rng), " ".join(cvv)])
        turns += [
            (
                "agent",
                rng.choice(
                    [
                        "Gracias. ¿Y el código de seguridad?",
                        "¿Cuál es el código de verificación, los tres dígitos de atrás?",
                        "Perfecto. ¿Me da el CVV?",
                    ]
                ),
                [],
            ),
            (
                "customer",
                rng.choice([f"Es {cvv_text}.", cvv_text, f"El código es {cvv_text}."]),
                [{"entity": "CVV", "secret": cvv}],
            ),
            ("agent", f"Gracias, el pago de {num2words(rng.randint(20, 300), lang='es')} dólares se realizó.", []),
            ("customer", "Muy bien, muchas gracias.", []),
        ]  # fmt: skip
        corpus.dialog(turns)
    for _ in range(8):  # volunteered without being asked
        digits = card(rng)
        cvv = "".join(str(rng.randrange(10)) for _ in range(3))
        text = spoken_card(digits, rng.choice(["written", "spoken", "garbled"]), rng)
        entities = [{"entity": "CREDIT_CARD_NUMBER", "secret": digits[:-4]}, {"entity": "CVV", "secret": cvv}]
        corpus.dialog(
            corpus.opening()
            + [("customer", f"Mi número de tarjeta es {text}, y el código de seguridad es {' '.join(cvv)}.", entities)]
        )


def pii_dialogues(corpus: SpanishCorpus) -> None:
    rng = corpus.rng
    for _ in range(12):
        pin = "".join(str(rng.randrange(10)) for _ in range(4))
        said = rng.choice([pin, say_digits(pin, rng), " ".join(pin)])
        ask = rng.choice(
            ["Por seguridad, ¿cuál es su NIP?", "¿Me confirma su clave de cuatro dígitos?", "¿Me da su PIN?"]
        )
        reply = rng.choice([f"Es {said}.", said, f"Mi NIP es {said}."])
        corpus.dialog(corpus.opening() + [("agent", ask, []), ("customer", reply, [{"entity": "PIN", "secret": pin}])])
    for _ in range(12):
        area, group, serial = f"{rng.randint(1, 899):03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}"
        ssn = area + group + serial
        said = rng.choice([f"{area}-{group}-{serial}", f"{area} {group} {serial}", say_digits(ssn, rng)])
        ask = rng.choice(["¿Me puede verificar su número de seguro social?", "¿Cuál es su seguro social?"])
        corpus.dialog(
            corpus.opening()
            + [("agent", ask, []), ("customer", f"Sí, es {said}.", [{"entity": "SSN", "secret": ssn[:5]}])]
        )
        last4 = f"{rng.randint(0, 9999):04d}"
        reply = rng.choice([last4, say_digits(last4, rng), f"Son {last4}."])
        corpus.dialog(
            [
                ("agent", "¿Me da los últimos cuatro de su seguro social?", []),
                ("customer", reply, [{"entity": "SSN", "secret": last4}]),
            ]
        )
    for _ in range(10):
        password = rng.choice(["gatito99", "sol2020", "Luna-Azul7", "mariposa12", "tigre88"])
        if rng.random() < 0.5:
            reply = rng.choice([f"Es {password}.", password])
            turns: Turns = [
                ("agent", "¿Me confirma su contraseña?", []),
                ("customer", reply, [{"entity": "PASSWORD", "secret": password.lower()}]),
            ]
        else:
            text = f"Intenté entrar y mi contraseña es {password} pero no funciona."
            turns = [("customer", text, [{"entity": "PASSWORD", "secret": password.lower()}])]
        corpus.dialog(corpus.opening() + turns + [("agent", "Se la restablezco ahora mismo.", [])])
    for _ in range(10):
        local, domain = (
            rng.choice(["juan punto perez", "maria", "ana guion bajo lopez"]),
            rng.choice(["ejemplo", "correo"]),
        )
        written_local = local.replace(" punto ", ".").replace(" guion bajo ", "_")
        spoken = rng.random() < 0.6
        text = f"{local} arroba {domain} punto com" if spoken else f"{written_local}@{domain}.com"
        secret = written_local.replace(".", "").replace("_", "")
        corpus.dialog(
            corpus.opening()
            + [
                ("agent", "¿A qué correo electrónico le mando el recibo?", []),
                ("customer", f"Es {text}.", [{"entity": "EMAIL", "secret": secret}]),
            ]
        )
    for _ in range(10):
        digits = f"{rng.randint(200, 999)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        parts = (digits[:3], digits[3:6], digits[6:])
        text = rng.choice(["-".join(parts), ", ".join(say_digits(p, rng) for p in parts)])
        corpus.dialog(
            corpus.opening()
            + [
                ("agent", "¿Me da un número de teléfono por si se corta la llamada?", []),
                ("customer", f"Me puede llamar al {text}.", [{"entity": "PHONE_NUMBER", "secret": digits}]),
            ]
        )
    for _ in range(12):
        month, day, year = rng.randrange(12), rng.randint(1, 28), rng.randint(1940, 2005)
        text = rng.choice(
            [
                f"el {day} de {MONTHS[month]} de {year}",
                f"el {'primero' if day == 1 else words(day)} de {MONTHS[month]} de {words(year)}",
                f"{day:02d}/{month + 1:02d}/{year}",
            ]
        )
        corpus.dialog(
            corpus.opening()
            + [
                ("agent", "¿Y su fecha de nacimiento?", []),
                ("customer", f"Es {text}.", [{"entity": "DOB", "secret": str(year)}]),
            ]
        )


def hard_cases(corpus: SpanishCorpus) -> None:
    """A misheard digit (Luhn fails), fillers between groups; long numbers that are no card."""
    rng = corpus.rng
    for _ in range(10):
        broken = list(card(rng))
        broken[rng.randrange(4, 12)] = str(rng.randrange(10))
        number = "".join(broken)
        text = rng.choice(
            ["-".join(groups(number)), "eh " + ", este, ".join(say_digits(g, rng, garble=True) for g in groups(number))]
        )
        cvv = "".join(str(rng.randrange(10)) for _ in range(3))
        corpus.dialog(
            corpus.opening()
            + [
                ("agent", "Cuando quiera, el número de la tarjeta.", []),
                ("customer", "Espere, déjeme buscar mi cartera.", []),
                ("customer", f"Bueno, {text}.", [{"entity": "CREDIT_CARD_NUMBER", "secret": number[:-4]}]),
                ("agent", "¿Y los tres dígitos de atrás?", []),
                ("customer", say_digits(cvv, rng), [{"entity": "CVV", "secret": cvv}]),
                ("customer", "Ah, y me mudé el tres de marzo de dos mil diez, por si importa.", []),
            ]
        )
    for _ in range(8):
        number = "".join(str(rng.randrange(10)) for _ in range(12))
        corpus.dialog(
            [
                ("agent", "¿Tiene el número de referencia de la carta?", []),
                ("customer", f"Sí, la referencia es {' '.join(groups(number))}.", []),
            ]
        )


QUESTIONS = {
    "CREDIT_CARD_NUMBER": (
        "¿Me da el número de su tarjeta?", "me puede dar el numero de la targeta",
        "¿Cuál es el número de la tarjeta de crédito?", "por favor los dieciséis dígitos de la tarjeta",
        "léame el número de la tarjeta de débito",
    ),
    "CVV": (
        "¿Y el código de seguridad?", "el codigo de verificacion por favor", "¿Cuál es el CVV?",
        "los tres digitos de atras", "y el ce ve ve",
    ),
    "PIN": (
        "¿Cuál es su NIP?", "me confirma su clave", "su número de identificación personal, por favor",
        "¿El PIN de la tarjeta?",
    ),
    "SSN": ("¿Me da su seguro social?", "cual es su numero de seguro social", "¿los últimos cuatro de su social?"),
}  # fmt: skip
LENGTHS = {"CVV": 3, "PIN": 4}


def say_answer(digits: str, rng: random.Random) -> str:
    """An answer as Whisper may write it: digits spaced or with commas, words, or both mixed."""
    form = rng.choice(["spaced", "commas", "words", "mixed", "written"])
    if form == "written":
        return digits
    said = [DIGITS[int(d)] if form == "words" or (form == "mixed" and rng.random() < 0.5) else d for d in digits]
    return (", " if form == "commas" else " ").join(said)


def garble_question(question: str, rng: random.Random) -> list[str]:
    """No punctuation, no accents, or split in two utterances, as an ASR hands a question over."""
    if rng.random() < 0.5:
        question = question.strip("¿?")
    if rng.random() < 0.3:
        question = fold(question)
    cut = question.split()
    if len(cut) > 3 and rng.random() < 0.25:
        at = rng.randint(1, len(cut) - 1)
        return [" ".join(cut[:at]), " ".join(cut[at:])]
    return [question]


def question_dialogues(corpus: SpanishCorpus) -> None:
    """Each way of asking for a secret, garbled, then an answer with no keyword in it."""
    rng = corpus.rng
    for entity, questions in QUESTIONS.items():
        for question in questions * 2:
            if entity == "CREDIT_CARD_NUMBER":
                number = card(rng)
                secret = number[:-4]
            elif entity == "SSN":
                number = "".join(str(rng.randrange(10)) for _ in range(4 if "cuatro" in question else 9))
                secret = number if len(number) == 4 else number[:5]
            else:
                number = "".join(str(rng.randrange(10)) for _ in range(LENGTHS[entity]))
                secret = number
            turns: Turns = [("agent", part, []) for part in garble_question(question, rng)]
            answer = say_answer(number, rng)
            turns.append(
                (
                    "customer",
                    rng.choice([answer, f"Sí, {answer}", f"Es {answer}."]),
                    [{"entity": entity, "secret": secret}],
                )
            )
            corpus.dialog(turns)


def near_misses(corpus: SpanishCorpus) -> None:
    rng = corpus.rng
    templates = [
        lambda: f"Mi número de pedido es {rng.randint(100000, 9999999)}.",
        lambda: f"Costó {words(rng.randint(5, 500))} dólares.",
        lambda: f"Son {words(rng.randint(20, 99))} dólares con {words(rng.randint(10, 99))} centavos.",
        lambda: f"El vuelo sale el {rng.randint(2, 28)} de {rng.choice(MONTHS)} a las {rng.randint(1, 12)}:30.",
        lambda: f"Pedí {words(rng.randint(2, 9))} artículos el {words(rng.randint(2, 9))} de {rng.choice(MONTHS)}.",
        lambda: "Tardará de tres a cinco días hábiles.",
        lambda: f"Soy cliente desde el {words(rng.randint(1995, 2022))}.",
        lambda: f"El número de rastreo termina en {rng.randint(1000, 9999)}.",
        lambda: f"Habitación {rng.randint(100, 1999)}, en el tercer piso.",
        lambda: "Le llamo mañana a las diez y media.",
        lambda: f"Tengo {words(rng.randint(2, 5))} líneas en mi cuenta.",
        lambda: f"Tenemos un descuento del {words(rng.randint(10, 50))} por ciento esta semana.",
        lambda: f"Mi código postal es {rng.randint(10000, 99999)}.",
        lambda: "¿Me puede enviar la tarjeta con los nuevos términos?",
        lambda: "¿Qué tarjeta quiere usar, la que tiene registrada?",
        lambda: f"Quiero usar la tarjeta que termina en {rng.randint(1000, 9999)}.",
    ]  # fmt: skip
    for _ in range(30):
        turns: Turns = [("agent", "¿Hay algo más en que le pueda ayudar?", [])]
        turns += [("customer", rng.choice(templates)(), []) for _ in range(3)]
        turns.append(("agent", rng.choice(templates)(), []))
        corpus.dialog(turns)


def build(seed: int = 17) -> SpanishCorpus:
    corpus = SpanishCorpus(seed)
    for part in (card_dialogues, pii_dialogues, hard_cases, question_dialogues, near_misses):
        part(corpus)
    for line in corpus.lines:  # a near miss for the nine, a ZIP for the catalogue
        postcode = POSTCODE.search(line["text"])
        if postcode and not line["entities"]:
            line["entities"] = [{"entity": "ZIP", "secret": postcode.group(1)}]
    first = len(corpus.lines)
    catalogue_dialogues(corpus.rng, corpus.dialog)
    for line in corpus.lines[first:]:
        line["part"] = "catalogue"  # scored with every entity on; the nine's figures stay on their own lines
    return corpus


def main() -> None:
    corpus = build()
    OUT.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in corpus.lines))
    labelled = sum(bool(line["entities"]) for line in corpus.lines)
    print(f"wrote {len(corpus.lines)} utterances in {corpus.dialogue} dialogues ({labelled} with entities) to {OUT}")


if __name__ == "__main__":
    main()
