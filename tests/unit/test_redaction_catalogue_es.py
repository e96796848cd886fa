"""The catalogue's entities on Spanish (es-US) calls, as Whisper writes them after Spanish ITN: names after "me
llamo" and as the answer to "¿me da su nombre?", remembered for the call; addresses, ZIPs, account, routing,
license and passport numbers after their Spanish cue words; security answers; Mexican CURP and RFC and Spanish
DNI/NIE read out in digits, number words and Spanish letter names; with and without accents. The English
named-entity model does not read Spanish."""

from __future__ import annotations

import pytest

from redaction import catalogue_es, ner
from redaction.context import ConversationContext
from redaction.cues import cued
from redaction.entities import NEEDS_NER, EntityId
from redaction.languages import to_written
from redaction.redactor import Redaction, RedactionOptions, Redactor

E = EntityId
# Every entity; NAME and LOCATION only where the model is installed (the gateway refuses them otherwise).
ALL = frozenset(EntityId) if ner.installed_model() else frozenset(EntityId) - NEEDS_NER
# NAME is active only with the `ner` extra installed (start-up refuses it otherwise), Spanish streams included
needs_model = pytest.mark.skipif(ner.installed_model() is None, reason="the `ner` extra is not installed")
REDACTOR = Redactor(RedactionOptions())


def conversation(turns: list[tuple[str, str]], active: frozenset[EntityId] = ALL) -> list[Redaction]:
    context = ConversationContext()
    return [
        REDACTOR.redact(to_written(text, "es"), role, active, context, now=i * 3.0, language="es")
        for i, (role, text) in enumerate(turns)
    ]


def one(text: str, active: frozenset[EntityId] = ALL) -> Redaction:
    return conversation([("customer", text)], active)[0]


def left(redaction: Redaction, *words: str) -> list[str]:
    """Which of `words` are still readable in the output."""
    return [w for w in words if w in redaction.text]


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("¿Me da su nombre completo?", E.NAME),
        ("me da su nombre completo", E.NAME),
        ("¿A nombre de quién está la cuenta?", E.NAME),
        ("¿Cuál es su dirección?", E.ADDRESS),
        ("cual es su direccion", E.ADDRESS),
        ("¿Y el código postal?", E.ZIP),
        ("¿Me da el número de cuenta?", E.ACCOUNT_NUMBER),
        ("¿El número de ruta del banco?", E.BANK_ROUTING_NUMBER),
        ("¿Su número de licencia de conducir?", E.DRIVER_LICENSE),
        ("¿Y el número de pasaporte?", E.PASSPORT_NUMBER),
        ("¿Cuál es el apellido de soltera de su madre?", E.SECURITY_ANSWER),
        ("¿cual es el nombre de su primera mascota?", E.SECURITY_ANSWER),
        ("¿Me da su CURP?", E.MX_CURP),
        ("¿Y su RFC?", E.MX_RFC),
        ("¿Su DNI, por favor?", E.ES_DNI),
        ("¿Cuál es su NIE?", E.ES_NIE),
    ],
)
def test_spanish_cue_words_name_their_entity(text: str, entity: EntityId) -> None:
    if entity in NEEDS_NER and ner.installed_model() is None:
        pytest.skip("the `ner` extra is not installed")
    assert entity in cued(text, ALL, "es")


def test_security_questions_do_not_ask_for_the_callers_name() -> None:
    for text in ("¿Cuál es el apellido de soltera de su madre?", "¿Y el nombre de su primera mascota?"):
        assert E.NAME not in cued(text, ALL, "es")


@pytest.mark.parametrize(
    "text",
    ["Tengo dos cuentas.", "Muchas gracias por su ayuda.", "Sin problema, le espero.", "Quiero pan dulce."],
)
def test_english_cues_are_not_read_on_spanish(text: str) -> None:
    """'sin' is no Canadian SIN, 'pan' no Indian PAN: Spanish text reads the Spanish cues only."""
    assert cued(text, ALL, "es") == set()


@needs_model
@pytest.mark.parametrize("question", ["¿Me da su nombre completo?", "me da su nombre completo por favor"])
def test_the_answer_to_the_name_question_is_masked_and_remembered(question: str) -> None:
    out = conversation(
        [
            ("agent", question),
            ("customer", "María López García"),
            ("agent", "Gracias, señora López. ¿En qué le puedo ayudar?"),
            ("customer", "Sí, soy maria lopez y quiero pagar mi factura."),
        ]
    )
    assert left(out[1], "María", "López", "García") == []
    assert left(out[2], "López") == [] and "Gracias" in out[2].text  # remembered; the agent's words stay
    assert left(out[3], "maria", "lopez") == [] and "factura" in out[3].text  # found again without accents


@needs_model
@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Me llamo José Hernández y quiero pagar.", ("José", "Hernández")),
        ("me llamo jose hernandez", ("jose", "hernandez")),
        ("Mi nombre es Ana Núñez.", ("Ana", "Núñez")),
        ("La cuenta está a nombre de Roberto Díaz.", ("Roberto", "Díaz")),
        ("Hola, soy Carmen, llamo por mi recibo.", ("Carmen",)),
    ],
)
def test_names_after_spanish_cues(text: str, name: tuple[str, ...]) -> None:
    out = one(text)
    assert left(out, *name) == []
    assert {str(s.entity) for s in out.spans} == {E.NAME}


@pytest.mark.parametrize(
    "text", ["soy cliente desde hace diez años", "Soy de Guadalajara.", "¿Qué pasó con mi pago?", "Gracias."]
)
def test_spanish_prose_is_no_name(text: str) -> None:
    assert one(text).spans == ()


def test_the_english_model_does_not_read_spanish() -> None:
    """On Spanish the English NER took "Qué" and "Gracias" for names: only cues, answers and memory find them."""
    out = one("¿Qué tal? Gracias por llamar a Telcel. ¿Qué necesita?")
    assert out.spans == ()


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        (
            "Vivo en la calle Juárez número ciento veinte, colonia Centro, código postal cuatro cinco cero cero cero.",
            ("Juárez", "120", "Centro", "45000"),
        ),
        ("mi direccion es avenida insurgentes sur 1602 colonia credito constructor", ("insurgentes", "1602")),
        ("Vivo en 1234 Main Street apartamento número 5 Houston Texas 77001.", ("1234", "Main", "Houston", "77001")),
        ("Vivo en el 4500 de la calle Elm.", ("4500", "Elm")),
        ("El código postal es 77001.", ("77001",)),
    ],
)
def test_addresses_as_said_in_spanish(text: str, hidden: tuple[str, ...]) -> None:
    assert left(one(text), *hidden) == []


def test_the_answer_to_the_address_question_is_masked() -> None:
    out = conversation([("agent", "¿Cuál es su dirección?"), ("customer", "Es Reforma ochenta y dos, en Toluca.")])
    assert left(out[1], "Reforma", "82", "Toluca") == []


@pytest.mark.parametrize(
    ("question", "reply", "secret"),
    [
        ("¿Cuál es el apellido de soltera de su madre?", "Ramírez", "Ramírez"),
        ("¿cual es el apellido de soltera de su madre?", "es ramirez", "ramirez"),
        ("¿Y el nombre de su primera mascota?", "Se llamaba Firulais.", "Firulais"),
    ],
)
def test_security_answers(question: str, reply: str, secret: str) -> None:
    out = conversation([("agent", question), ("customer", reply)])[1]
    assert secret not in out.text and E.SECURITY_ANSWER in {s.entity for s in out.spans}


def test_a_security_answer_given_with_its_question() -> None:
    out = one("El apellido de soltera de mi mamá es Gutiérrez.")
    assert left(out, "Gutiérrez") == [] and "mamá" in out.text


ROUTING_QUESTION = ("agent", "¿Y el número de ruta?")


@pytest.mark.parametrize(
    ("turns", "entity", "secret"),
    [
        ([("customer", "mi número de cuenta es cuatro cinco seis siete ocho nueve uno dos")], E.ACCOUNT_NUMBER, "4567"),
        ([("customer", "con mi cuenta de cheques, el número es 123456789")], E.BANK_ACCOUNT_NUMBER, "12345"),
        ([ROUTING_QUESTION, ("customer", "cero dos uno cero cero cero cero dos uno")], E.BANK_ROUTING_NUMBER, "02100"),
        ([("customer", "el numero de ruta es 021000021")], E.BANK_ROUTING_NUMBER, "021000021"),
        ([("customer", "Mi licencia es ocho siete seis cinco cuatro tres dos uno.")], E.DRIVER_LICENSE, "8765"),
        ([("customer", "mi licencia de conducir es D1234567")], E.DRIVER_LICENSE, "1234567"),
        ([("customer", "Mi pasaporte es G 1234 5678.")], E.PASSPORT_NUMBER, "12345678"),
    ],
)  # fmt: skip
def test_numbers_after_spanish_cues(turns: list[tuple[str, str]], entity: EntityId, secret: str) -> None:
    out = conversation(turns)[-1]
    assert secret not in digits(out.text)
    assert entity in {s.entity for s in out.spans}


# Valid ids (checksums): CURP MYAG691116HNLCMX08, RFC PDVD861124GT9, DNI 52858781C, NIE Z1995653V.
@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("Mi CURP es MYAG691116HNLCMX08.", E.MX_CURP),
        ("mi curp es M Y A G 6 9 1 1 1 6 H N L C M X 0 8", E.MX_CURP),
        ("mi curp es eme ye a ge seis nueve uno uno uno seis hache ene ele ce eme equis cero ocho", E.MX_CURP),
        ("Mi CURP es MYAG, sesenta y nueve, once, dieciséis, HNLCMX, cero ocho.", E.MX_CURP),
        ("Mi RFC es PDVD861124GT9", E.MX_RFC),
        ("el rfc es P D V D ocho seis uno uno dos cuatro G T nueve", E.MX_RFC),
        ("Mi DNI es 52858781C", E.ES_DNI),
        ("mi dni es cinco dos ocho cinco ocho siete ocho uno ce", E.ES_DNI),
        ("mi dni es cincuenta y dos, ochenta y cinco, ochenta y siete, ochenta y uno, C", E.ES_DNI),
        ("Mi documento es 52858781-C", E.ES_DNI),
        ("Mi NIE es Z1995653V", E.ES_NIE),
        ("mi nie es zeta uno nueve nueve cinco seis cinco tres uve", E.ES_NIE),
        ("mi número de identidad de extranjero es Z 1995653 V", E.ES_NIE),
    ],
)
def test_spanish_and_mexican_ids_read_out(text: str, entity: EntityId) -> None:
    out = one(text)
    assert [s.entity for s in out.spans] == [entity]
    assert digits(out.text) == ""


def test_letter_names_join_a_code_only_next_to_it() -> None:
    """'ese' is a letter (S) only beside a code's digits; as a word it is no code."""
    assert catalogue_es.LETTER_NAMES["ese"] == "S"
    assert one("Ese número no es el mío.").spans == ()


def test_spanish_offsets_fold_one_character_for_one() -> None:
    text = "Dirección: Ñuñoa, ¿código?"
    assert len(catalogue_es.folded(text)) == len(text)


@needs_model
def test_particles_inside_a_spanish_name() -> None:
    out = one("me llamo maria de los angeles perez y quiero pagar")
    assert left(out, "maria", "angeles", "perez") == [] and "quiero pagar" in out.text
    assert left(one("Soy Ana de Telcel."), "Telcel") == ["Telcel"]  # after "soy" the name ends at "de"


def test_the_name_question_itself_is_no_name() -> None:
    assert conversation([("agent", "¿a nombre de quien esta la cuenta?")])[0].spans == ()


def test_digits_read_one_by_one_in_addresses_and_zips() -> None:
    assert digits(one("Vivo en la avenida Hidalgo número 4 8 3 4, colonia Centro.").text) == ""
    assert digits(one("codigo postal 7 3 2 6 0").text) == ""


def test_a_date_asked_for_as_a_birth_date_is_dob() -> None:
    out = conversation([("agent", "¿Y su fecha de nacimiento?"), ("customer", "Es el 9 de abril de 1980.")])[1]
    assert digits(out.text) == "" and {s.entity for s in out.spans} == {E.DOB}
    assert {s.entity for s in one("El vuelo sale el 7 de abril.").spans} == {E.DATE}


def test_a_zip_asked_for_and_read_digit_by_digit() -> None:
    out = conversation([("agent", "¿Y el código postal?"), ("customer", "Es el siete cinco seis seis nueve.")])[1]
    assert digits(out.text) == "" and {s.entity for s in out.spans} == {E.ZIP}


@pytest.mark.parametrize(
    ("text", "age"),
    [("Tengo 45 años.", "45"), ("mi papá tiene ochenta años", "80"), ("Tiene 30 años de edad.", "30")],
)
def test_ages_in_spanish(text: str, age: str) -> None:
    out = one(text)
    assert age not in out.text and {s.entity for s in out.spans} == {E.AGE}


def test_years_that_are_no_age() -> None:
    assert one("Tengo 3 años con ustedes.").spans == ()  # a customer for three years
    assert one("Soy cliente desde hace diez años.").spans == ()
