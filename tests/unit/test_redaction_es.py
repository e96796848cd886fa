"""Redaction of Spanish (es-US) calls: cards, CVV, PIN, SSN, dates of birth, phones and e-mail addresses as
Whisper writes them in Spanish (with and without accents, digits mixed with words, misheard digits), and the
agent's questions that open them."""

from __future__ import annotations

import pytest

from redaction.context import ConversationContext
from redaction.entities import EntityId
from redaction.languages import to_written
from redaction.mentions import mentions
from redaction.redactor import RedactionOptions, Redactor

E = EntityId
ALL = frozenset(EntityId)
REDACTOR = Redactor(RedactionOptions())


def conversation(turns: list[tuple[str, str]], active: frozenset[EntityId] = ALL) -> list[str]:
    context = ConversationContext()
    return [
        REDACTOR.redact(to_written(text, "es"), role, active, context, now=i * 3.0, language="es").text
        for i, (role, text) in enumerate(turns)
    ]


def answer(question: str, reply: str, active: frozenset[EntityId] = ALL) -> str:
    return conversation([("agent", question), ("customer", reply)], active)[1]


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


@pytest.mark.parametrize(
    ("question", "entity"),
    [
        ("¿Me da el número de su tarjeta?", E.CREDIT_CARD_NUMBER),
        ("me da el numero de la targeta", E.CREDIT_CARD_NUMBER),  # no accents, a misspelt word
        ("¿Cuál es el código de seguridad?", E.CVV),
        ("cual es el codigo de verificacion", E.CVV),
        ("¿y los tres dígitos de atrás?", E.CVV),
        ("¿Me da su clave?", E.PIN),
        ("el NIP, por favor", E.PIN),
        ("su número de identificación personal", E.PIN),
        ("¿los últimos cuatro de su seguro social?", E.SSN),
        ("¿Su fecha de nacimiento?", E.DOB),
        ("¿y su contraseña?", E.PASSWORD),
    ],
)
def test_spanish_questions_name_their_entity(question: str, entity: EntityId) -> None:
    assert entity in mentions(question, ALL, "es")


@pytest.mark.parametrize("text", ["Tengo dos cuentas.", "Muchas gracias por su ayuda.", "Estoy seguro de que sí."])
def test_spanish_prose_names_nothing(text: str) -> None:
    assert mentions(text, ALL, "es") == set()


@pytest.mark.parametrize(
    "reply",
    [
        "Sí, es cuatro uno uno uno, uno uno uno uno, uno uno uno uno, uno uno uno uno.",
        "cuarenta y uno once, once once, once once, once once",  # in pairs
        "cuatro mil ciento once, mil ciento once, mil ciento once, mil ciento once",  # as thousands
        "4 uno uno uno, 1111, uno uno uno uno, 1111",  # digits mixed with words
        "cuatro uno uno uno, uno uno uno uno, uno uno uno uno, uno uno uno uno",
    ],
)
def test_a_card_read_in_spanish_keeps_only_its_last_four(reply: str) -> None:
    out = answer("¿Me da el número de su tarjeta?", reply)
    assert digits(out) == "1111" and out.rstrip(".").endswith("1111")


@pytest.mark.parametrize(
    "reply",
    [
        "Mi tarjeta es cuatro sinco cuatro quatro cero cero uno dos tres cuatro sinco seis siete ocho nueve cero",
        "cuatro, cinco, cuatro, cuatro, sero, cero, uno, dos, tres, cuatro, cinco, seis, siete, ocho, nuebe, cero",
        "4544 00 uno dos este 3456 setenta y ocho noventa",
        "Mi número es 4544. Eis 9. Eis 9. Y Eis hueve.",  # Whisper base on espeak-ng Spanish digits
    ],
)
def test_the_long_digit_run_rule_reads_spanish_homophones_without_any_question(reply: str) -> None:
    out = conversation([("customer", reply)])[0]
    assert "4544" not in digits(out) and not any(w in out for w in ("sinco", "quatro", "nuebe", "sero", "setenta"))


def test_a_card_read_over_several_utterances_in_spanish() -> None:
    out = conversation(
        [
            ("agent", "¿Me da el número de la tarjeta?"),
            ("customer", "cuatro uno uno uno"),
            ("customer", "uno uno uno uno"),
            ("customer", "uno uno uno uno"),
            ("customer", "uno uno uno uno"),
        ]
    )
    assert out[1:] == ["####", "####", "####", "1111"]


@pytest.mark.parametrize(
    ("question", "reply"),
    [
        ("¿Cuál es el código de seguridad?", "uno dos tres"),
        ("¿Cuál es el código de seguridad?", "Es el 987."),
        ("el código de verificación, por favor", "siete, ocho, nueve"),
        ("¿Me da su clave?", "Es cuatro cinco seis siete."),
        ("¿Me da su NIP?", "uno, dos, tres, cuatro"),
        ("¿Me confirma los últimos cuatro de su seguro social?", "Son uno dos tres cuatro."),
        ("¿Me da su número de seguro social?", "Sí, ciento veintitrés, cuarenta y cinco, seis siete ocho nueve."),
    ],
)
def test_short_secrets_asked_for_in_spanish_are_masked(question: str, reply: str) -> None:
    out = answer(question, reply)
    secret = digits(to_written(reply, "es"))
    kept = secret[-4:] if len(secret) == 9 else ""  # an SSN's last four stay
    assert digits(out) == kept, out


def test_date_of_birth_phone_email_and_password_in_spanish() -> None:
    dob = answer("¿Su fecha de nacimiento?", "treinta y uno de enero de mil novecientos ochenta")
    assert "1980" not in dob and "31" not in dob
    phone = answer("¿A qué teléfono le llamamos?", "al cinco cinco cinco, uno dos tres, cuatro cinco seis siete")
    assert digits(phone) == ""
    email = conversation([("customer", "Mi correo es juan punto perez arroba gmail punto com")])[0]
    assert "juan" not in email and "@gmail.com" in email
    password = conversation([("customer", "Mi contraseña es gatito noventa y nueve")])[0]
    assert "gatito" not in password and "99" not in password


@pytest.mark.parametrize(
    "text",
    [
        "Compré tres artículos el cinco de mayo por cuarenta dólares.",
        "Quiero usar la tarjeta que termina en 4321.",
        "El pago de cincuenta dólares con veinte centavos ya está hecho.",
        "Llevo cliente desde el dos mil quince.",
    ],
)
def test_spanish_near_misses_keep_their_numbers(text: str) -> None:
    written = to_written(text, "es")
    assert conversation([("customer", text)], frozenset({E.CREDIT_CARD_NUMBER, E.CVV, E.PIN, E.SSN}))[0] == written


def test_english_tables_do_not_read_spanish_and_spanish_do_not_read_english() -> None:
    """Each language reads its own words: 'once' is eleven in Spanish, a word in English."""
    assert to_written("once once once once", "es") == "11111111"
    english = REDACTOR.redact("once once once once", "customer", ALL).text
    assert english == "once once once once"


def test_what_whisper_base_wrote_for_the_spanish_sample_card_is_masked() -> None:
    """The multilingual model's words for the sample call's card (samples/calls/es, espeak-ng through mu-law)."""
    out = conversation([("customer", "Claro, E-4-5-131-4-0-5-3-4-3-4-4-8-9-7")])[0]
    assert digits(out) == ""


def test_a_spanish_question_split_over_two_utterances_opens_its_entity() -> None:
    out = conversation([("agent", "Y el código"), ("agent", "de seguridad, por favor"), ("customer", "cinco seis uno")])
    assert out[2] == "###"


def test_a_social_security_number_volunteered_in_spanish_keeps_its_last_four() -> None:
    out = conversation([("customer", "Mi seguro social es uno dos tres cuatro cinco seis siete ocho nueve.")])[0]
    assert digits(out) == "6789"


def test_spanish_profanity_is_masked_with_or_without_accents() -> None:
    out = conversation([("customer", "¡Esta mierda no funciona, carajo! Qué coño.")], frozenset({E.PROFANITY}))[0]
    assert out == "¡Esta ###### no funciona, ######! Qué ####."
    assert conversation([("customer", "Qué cono.")], frozenset({E.CREDIT_CARD_NUMBER}))[0] == "Qué cono."
