"""Word error rate of transcripts against reference text, with one normalisation for both sides."""

from __future__ import annotations

import re
from collections.abc import Sequence

import jiwer

_CURRENCY = re.compile(r"\$(\d+(?:\.\d+)?)")
_NON_WORD = re.compile(r"[^\w\s]")
_DIGIT_RUN = re.compile(r"\b\d+(?:\s+\d+)+\b")


def normalize(text: str) -> str:
    """Lower case, no punctuation, '$59' as '59 dollars', adjacent digit groups joined ('4 5 2' -> '452')."""
    text = _CURRENCY.sub(r"\1 dollars", text.lower())
    text = _NON_WORD.sub(lambda m: "" if m.group(0) in ":-'" else " ", text)
    text = _DIGIT_RUN.sub(lambda m: re.sub(r"\s+", "", m.group(0)), text)
    return " ".join(text.split())


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus WER over the concatenated texts, so utterance boundaries do not matter."""
    reference = normalize(" ".join(references))
    hypothesis = normalize(" ".join(hypotheses))
    if not reference:
        return 0.0 if not hypothesis else 1.0
    return float(jiwer.wer(reference, hypothesis))
