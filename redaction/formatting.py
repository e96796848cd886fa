"""Written and spoken form: the model writes smart-formatted text; `smartFormatting: false` asks for spoken form."""

from __future__ import annotations

import re

from num2words import num2words

_CURRENCY = re.compile(r"\$(\d+(?:,\d{3})*(?:\.\d+)?)")
PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s?%")
TIME = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
DIGIT_GROUPS = re.compile(r"\b\d+(?:[ -]\d+)+\b")  # card, phone and account numbers read in groups
NUMBER = re.compile(r"\d+(?:,\d{3})+(?:\.\d+)?|\d+\.\d+|\d+")
_PUNCTUATION = re.compile(r"[^\w\s']|(?<!\w)'|'(?!\w)")
SPACES = re.compile(r"\s+")
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def spoken_form(text: str) -> str:
    """'It is $59.' -> 'it is fifty nine dollars'; lower case, no punctuation, numbers as words."""
    text = _CURRENCY.sub(lambda m: f"{m.group(1)} dollars", text)
    text = PERCENT.sub(lambda m: f"{m.group(1)} percent", text)
    text = TIME.sub(_say_time, text)
    text = _ORDINAL.sub(lambda m: _words(num2words(int(m.group(1)), to="ordinal")), text)
    text = DIGIT_GROUPS.sub(lambda m: " ".join(DIGITS[int(d)] for d in m.group(0) if d.isdigit()), text)
    text = NUMBER.sub(lambda m: say_number(m.group(0)), text)
    text = _PUNCTUATION.sub(" ", text.replace("-", " "))
    return SPACES.sub(" ", text).strip().lower()


def say_number(written: str) -> str:
    """Cardinals for ordinary quantities; digit by digit for codes (leading zero or more than four digits)."""
    plain = written.replace(",", "")
    if "." in plain:
        return _words(num2words(float(plain)))
    if plain.startswith("0") and len(plain) > 1 or len(plain) > 4:
        return " ".join(DIGITS[int(d)] for d in plain)
    return _words(num2words(int(plain)))


def _say_time(match: re.Match[str]) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes == 0:
        return f"{_words(num2words(hours))} o'clock"
    spoken_minutes = f"oh {num2words(minutes)}" if minutes < 10 else num2words(minutes)
    return _words(f"{num2words(hours)} {spoken_minutes}")


def _words(spelled: str) -> str:
    return spelled.replace("-", " ").replace(",", "").replace(" and ", " ")
