"""Word error rate of transcripts against reference text, with one normalisation for both sides."""

from __future__ import annotations

import re
from collections.abc import Sequence

import jiwer

_CURRENCY = re.compile(r"\$(\d+(?:\.\d+)?)")
_NON_WORD = re.compile(r"[^\w\s]")
_DIGIT_RUN = re.compile(r"\b\d+(?:\s+\d+)+\b")


_UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}
_TEENS = {
    w: i + 10
    for i, w in enumerate("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())
}
_TENS = {w: (i + 2) * 10 for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}


def normalize(text: str) -> str:
    """Lower case, no punctuation, number words as digits, '$59' as '59 dollars', digit groups joined.

    Both sides of a comparison go through this, so '4 5 2', 'four five two' and '452' all read '452'.
    """
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


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus WER over the concatenated texts, so utterance boundaries do not matter."""
    reference = normalize(" ".join(references))
    hypothesis = normalize(" ".join(hypotheses))
    if not reference:
        return 0.0 if not hypothesis else 1.0
    return float(jiwer.wer(reference, hypothesis))
