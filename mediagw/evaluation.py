"""Word error rate of transcripts against reference text, with one normalisation for both sides."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import cache

import jiwer
from num2words import num2words

_CURRENCY = re.compile(r"\$(\d+(?:\.\d+)?)")
_NON_WORD = re.compile(r"[^\w\s]")
_DIGIT_RUN = re.compile(r"\b\d+(?:\s+\d+)+\b")


_UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}
_TEENS = {
    w: i + 10
    for i, w in enumerate("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())
}
_TENS = {w: (i + 2) * 10 for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}


def normalize(text: str, language: str = "en") -> str:
    """Lower case, no punctuation, number words as digits, '$59' as '59 dollars', digit groups joined.

    Both sides of a comparison go through this, so '4 5 2', 'four five two' and '452' all read '452'. Spanish
    (`language` "es"): its number words up to 99 ("cuarenta y cinco"), and no accents (the model's accents on a
    phone line are a coin toss, and a missing one is not a misheard word).
    """
    if language == "es":
        return _normalize_spanish(text)
    text = _CURRENCY.sub(r"\1 dollars", text.lower())
    text = _NON_WORD.sub(lambda m: "" if m.group(0) in ":-'" else " ", text)
    text = " ".join(_numbers_as_digits(text.split()))
    text = _DIGIT_RUN.sub(lambda m: re.sub(r"\s+", "", m.group(0)), text)
    return " ".join(text.split())


def _numbers_as_digits(words: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in _TENS:
            value = _TENS[word]
            if i + 1 < len(words) and words[i + 1] in _UNITS and words[i + 1] != "zero":
                value, i = value + _UNITS[words[i + 1]], i + 1
            out.append(str(value))
        elif word in _TEENS:
            out.append(str(_TEENS[word]))
        elif word in _UNITS or (word == "oh" and out and out[-1].isdigit()):
            out.append(str(_UNITS.get(word, 0)))
        else:
            out.append(word)
        i += 1
    return out


def _normalize_spanish(text: str) -> str:
    text = "".join(c for c in unicodedata.normalize("NFD", text.lower()) if not unicodedata.combining(c))
    text = _NON_WORD.sub(lambda m: "" if m.group(0) in ":-'" else " ", _CURRENCY.sub(r"\1 dolares", text))
    words, out = text.split(), []
    numbers = _spanish_numbers()
    i = 0
    while i < len(words):
        if i + 2 < len(words) and words[i + 1] == "y" and f"{words[i]} y {words[i + 2]}" in numbers:
            out.append(str(numbers[f"{words[i]} y {words[i + 2]}"]))
            i += 3
            continue
        out.append(str(numbers.get(words[i], words[i])))
        i += 1
    text = _DIGIT_RUN.sub(lambda m: re.sub(r"\s+", "", m.group(0)), " ".join(out))
    return " ".join(text.split())


@cache
def _spanish_numbers() -> dict[str, int]:
    """Spanish number words 0-99 (num2words writes them; accents stripped as the text is): 'cuarenta y cinco' -> 45."""
    table = {}
    for n in range(100):
        words = num2words(n, lang="es")
        table["".join(c for c in unicodedata.normalize("NFD", words) if not unicodedata.combining(c))] = n
    table["un"] = 1
    return table


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str], language: str = "en") -> float:
    """Corpus WER over the concatenated texts, so utterance boundaries do not matter."""
    reference = normalize(" ".join(references), language)
    hypothesis = normalize(" ".join(hypotheses), language)
    if not reference:
        return 0.0 if not hypothesis else 1.0
    return float(jiwer.wer(reference, hypothesis))
