"""Inverse text normalization: spoken forms to written, written text left alone."""

from __future__ import annotations

import pytest

from redaction.itn import to_written

CASES = [
    ("twenty two", "22"),
    ("my card is four one one one, one one one one.", "my card is 4111 1111."),
    ("double five", "55"),
    ("triple seven two", "7772"),
    ("it is oh eight one five", "it is 0815"),
    ("forty one eleven", "4111"),
    ("two thousand twenty four", "2024"),
    ("one hundred and five", "105"),
    ("nineteen eighty five", "1985"),
    ("that is twenty five dollars", "that is $25"),
    ("fifty nine dollars and ninety nine cents", "$59.99"),
    ("ten percent off", "10% off"),
    ("born on march third nineteen eighty", "born on March 3, 1980"),
    ("January thirty first, nineteen eighty", "January 31, 1980"),
    ("It's may twenty six nineteen seventy.", "It's May 26, 1970."),
    ("see you at ten thirty", "see you at 10:30"),
    ("ten thirty a m", "10:30 AM"),
    ("john dot smith at example dot com", "john.smith@example.com"),
    ("Yes, the number is for one one one one.", "Yes, the number is 41111."),
    ("two oh oh", "200"),
    ("call me on five five five, one two three, four five six seven", "call me on 555-123-4567"),
]
PROSE = [
    "Oh I see, one of them is fine.",
    "I paid for one month.",
    "It will take three to five business days.",
    "You may first need to call.",
    "I'd like to go to the store at noon.",
]
WRITTEN = [
    "Sure, it is 4527813.",
    "The fee is $25.",
    "My PIN is 1234.",
    "See you at 10:30 AM on March 3, 2024.",
    "Email john.smith@example.com",
    "It costs 25% more.",
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


@pytest.mark.parametrize("text", ["", " ", "😀 one two 😀", "número uno, dos, three four five", "ä" * 5000])
def test_odd_input_does_not_crash(text: str) -> None:
    assert isinstance(to_written(text), str)
