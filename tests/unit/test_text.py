"""Spoken form, vocabulary rewriting, token punctuation and the WER normalisation."""

from __future__ import annotations

import pytest

from asr.recognizer import Word
from mediagw.evaluation import normalize, word_error_rate
from mediagw.transcripts import tokens_from_words
from mediagw.vocabulary import Vocabulary, VocabularyPhrase
from redaction.formatting import spoken_form


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("It is $59.", "it is fifty nine dollars"),
        ("The flight leaves at 10:30 in the morning.", "the flight leaves at ten thirty in the morning"),
        ("Yes, the number is 4111 1111.", "yes the number is four one one one one one one one"),
        (
            "Account 4527813, 25% off, 3rd time, 1,200 items.",
            "account four five two seven eight one three twenty five percent off third time one thousand two hundred items",  # noqa: E501
        ),
        ("Call 0800 at 9:05, it's fine.", "call zero eight zero zero at nine oh five it's fine"),
    ],
)
def test_spoken_form(written: str, spoken: str) -> None:
    assert spoken_form(written) == spoken


def test_vocabulary_rewrites_sounds_like_and_builds_hotwords() -> None:
    vocabulary = Vocabulary()
    vocabulary.add([VocabularyPhrase("IEEE", ("i triple e",)), VocabularyPhrase("Jon Snow", ("john snow",))])
    assert vocabulary.rewrite("I joined I Triple E with John  Snow.") == "I joined IEEE with Jon Snow."
    assert vocabulary.hotwords() == "IEEE, Jon Snow"
    assert len(vocabulary) == 2


def test_tokens_take_punctuation_from_the_aligner_words() -> None:
    words = [
        Word(" Hi", 0, 200, 1.0),
        Word(",", 200, 200, 1.0),
        Word(" my", 300, 400, 1.0),
        Word(' "ID"', 400, 600, 1.0),
        Word("?", 600, 600, 1.0),
    ]
    tokens = tokens_from_words(words, offset_ms=1000, bounds=(1100, 1550), smart_formatting=True)
    assert [(t.content, t.punctuation_before, t.punctuation_after) for t in tokens] == [
        ("Hi", "", ","),
        ("my", "", ""),
        ("ID", '"', '"?'),
    ]
    assert [(t.start_ms, t.end_ms) for t in tokens] == [(1100, 1200), (1300, 1400), (1400, 1550)]


def test_detailed_tokens_without_smart_formatting_are_spoken_in_the_stream_language() -> None:
    words = [Word(" Son", 0, 200, 1.0), Word(" $25.", 200, 600, 1.0)]
    spanish = tokens_from_words(words, offset_ms=0, bounds=(0, 600), smart_formatting=False, language="es")
    assert [t.content for t in spanish] == ["son", "veinticinco dólares"]
    english = tokens_from_words(words, offset_ms=0, bounds=(0, 600), smart_formatting=False)
    assert [t.content for t in english] == ["son", "twenty five dollars"]


def test_wer_normalisation_treats_written_variants_alike() -> None:
    assert normalize("Sure, it is 4 5 2 7 8 1 3.") == normalize("sure it is 4527813")
    assert normalize("It's $59!") == "its 59 dollars"
    assert word_error_rate(["The fee is 25 dollars."], ["the fee is $25"]) == 0.0
    assert normalize("four five two and three to five") == normalize("452 and 3 to 5") == "452 and 3 to 5"
    assert normalize("fifty nine dollars") == normalize("$59")
    assert word_error_rate(["the cat sat down"], ["the cat down"]) == 0.25
