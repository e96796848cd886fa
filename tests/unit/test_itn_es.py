"""Spanish inverse text normalization: spoken forms as Whisper writes them to written, written text left alone."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from num2words import num2words

from mediagw.postprocess import Conversations, TextStage
from redaction.itn_es import to_written
from redaction.languages import base_language, spoken_form
from redaction.redactor import RedactionOptions, Redactor
from redaction.settings import EntitySettings

CASES = [
    ("cuatro uno uno uno", "4111"),
    ("mi tarjeta es cuatro uno uno uno, uno uno uno uno.", "mi tarjeta es 4111 1111."),
    ("cuarenta y uno once", "4111"),
    ("4 uno uno uno", "4111"),  # digits mixed with words
    ("cero ocho uno cinco", "0815"),
    ("mil doscientos", "1200"),
    ("veinticinco", "25"),
    ("dieciséis", "16"),
    ("dieciseis", "16"),  # without its accent
    ("veintidos", "22"),
    ("setecientos setenta y siete", "777"),
    ("dos mil veinticuatro", "2024"),
    ("un millón doscientos mil", "1200000"),
    ("treinta y una personas", "31 personas"),
    ("doscientas personas", "200 personas"),
    ("veintiún años", "21 años"),
    ("veintiuna personas", "21 personas"),
    ("treinta y uno de enero de mil novecientos ochenta", "31 de enero de 1980"),
    ("Nací el primero de marzo de mil novecientos noventa.", "Nací el 1 de marzo de 1990."),
    ("el cinco de mayo", "el 5 de mayo"),
    ("cincuenta dólares con veinte centavos", "$50.20"),
    ("cincuenta dolares", "$50"),
    ("4 mil dólares", "$4000"),
    ("noventa y nueve centavos", "$0.99"),
    ("veinte por ciento", "20%"),
    ("cinco por ciento de descuento", "5% de descuento"),
    ("a las diez y media", "a las 10:30"),
    ("a la una y cuarto", "a la 1:15"),
    ("a las diez treinta", "a las 10:30"),
    ("juan punto perez arroba gmail punto com", "juan.perez@gmail.com"),
    ("cinco cinco cinco, uno dos tres, cuatro cinco seis siete", "555-123-4567"),
    ("¿Sí, es el cuatro cinco uno dos?", "¿Sí, es el 4512?"),
]
PROSE = [
    "¿Me da el número de su tarjeta?",
    "Tengo dos cuentas y una tarjeta.",
    "Uno nunca sabe.",
    "Mil gracias por su ayuda.",
    "Son cuatro o cinco días hábiles.",
    "Un momento, por favor.",
]
WRITTEN = [
    "Sí, es 4527813.",
    "Son $25.",
    "Mi NIP es 1234.",
    "Nos vemos a las 10:30 el 3 de marzo de 2024.",
    "Mi correo es juan.perez@gmail.com",
    "Cuesta 25% más.",
]


@pytest.mark.parametrize(("spoken", "written"), CASES)
def test_spoken_forms_become_written(spoken: str, written: str) -> None:
    assert to_written(spoken) == written


@pytest.mark.parametrize("text", PROSE + WRITTEN)
def test_prose_and_written_text_are_left_alone(text: str) -> None:
    assert to_written(text) == text


@pytest.mark.parametrize(("spoken", "written"), CASES)
def test_idempotent(spoken: str, written: str) -> None:
    assert to_written(to_written(spoken)) == to_written(spoken)


def test_every_cardinal_num2words_writes_reads_back() -> None:
    """The inverse of the library's generator: its Spanish spelling of a number reads back as that number."""
    rng = random.Random(17)
    numbers = list(range(10, 1000)) + [rng.randrange(1000, 3_000_000) for _ in range(500)]
    wrong = [n for n in numbers if to_written(num2words(n, lang="es")) != str(n)]
    assert wrong == []


@pytest.mark.parametrize("text", ["", " ", "😀 uno dos 😀", "number one, dos, tres cuatro", "ñ" * 5000, "y y y"])
def test_odd_input_does_not_crash(text: str) -> None:
    assert isinstance(to_written(text), str)


def test_the_text_stage_formats_in_the_stream_language(tmp_path: Path) -> None:
    stage = TextStage(Redactor(RedactionOptions()), EntitySettings(), Conversations(30, 3), "#")

    def written(text: str, language: str = "en") -> str:
        return stage.process(
            text, conversation_id="c", role="customer", smart_formatting=True, output="unredacted", language=language
        ).text

    assert written("son veinticinco dólares", "es") == "son $25"
    assert written("twenty five dollars") == "$25"
    assert base_language("es-US") == "es" and base_language("de") == "en"


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("Son $25, el 10%.", "son veinticinco dólares el diez por ciento"),
        ("$50.20", "cincuenta dólares con veinte centavos"),
        ("$1", "un dólar"),
        ("Mi tarjeta es 4111 1111.", "mi tarjeta es cuatro uno uno uno uno uno uno uno"),
        ("A las 10:30 o a la 1:00.", "a las diez y treinta o a la una en punto"),
        ("¿Me da su NIP?", "me da su nip"),
        ("el año 2024", "el año dos mil veinticuatro"),
        ("código 0815", "código cero ocho uno cinco"),
    ],
)
def test_spanish_spoken_form(written: str, spoken: str) -> None:
    assert spoken_form(written, "es") == spoken


@pytest.mark.parametrize("written", ["$50.20", "$1,250", "4111 1111", "20%", "a las 10:30", "0815", "1980"])
def test_spoken_then_written_again_is_the_same_number(written: str) -> None:
    def plain(text: str) -> str:
        return text.replace(",", "").replace(" ", "")

    assert plain(to_written(spoken_form(written, "es"))) == plain(written)
