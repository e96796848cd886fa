"""Spanish spoken form for `smartFormatting: false`: '$50.20' -> 'cincuenta dólares con veinte centavos'.

Numbers are spelled by num2words (lang='es'); written by hand: the words around amounts, percentages and times.
"""

from __future__ import annotations

import re

from num2words import num2words

from redaction.formatting import DIGIT_GROUPS, NUMBER, PERCENT, SPACES, TIME

_CURRENCY = re.compile(r"\$(\d+(?:,\d{3})*)(?:\.(\d{1,2}))?")
_PUNCTUATION = re.compile(r"[^\w\s']|(?<!\w)'|'(?!\w)")
DIGITS = tuple(str(num2words(d, lang="es")) for d in range(10))


def spoken_form(text: str) -> str:
    """'Son $25, el 10%.' -> 'son veinticinco dólares el diez por ciento'; lower case, no punctuation."""
    text = _CURRENCY.sub(_say_amount, text)
    text = PERCENT.sub(lambda m: f"{m.group(1)} por ciento", text)
    text = TIME.sub(_say_time, text)
    text = DIGIT_GROUPS.sub(lambda m: " ".join(DIGITS[int(d)] for d in m.group(0) if d.isdigit()), text)
    text = NUMBER.sub(lambda m: say_number(m.group(0)), text)
    text = _PUNCTUATION.sub(" ", text.replace("-", " "))
    return SPACES.sub(" ", text).strip().lower()


def say_number(written: str) -> str:
    """Cardinals for quantities; digit by digit for codes (a leading zero or more than four digits)."""
    plain = written.replace(",", "")
    if "." in plain:
        return str(num2words(float(plain), lang="es"))
    if plain.startswith("0") and len(plain) > 1 or len(plain) > 4:
        return " ".join(DIGITS[int(d)] for d in plain)
    return str(num2words(int(plain), lang="es"))


def _say_amount(match: re.Match[str]) -> str:
    dollars, cents = int(match.group(1).replace(",", "")), int((match.group(2) or "0").ljust(2, "0"))
    said = "un dólar" if dollars == 1 else f"{num2words(dollars, lang='es')} dólares"
    if cents:
        said += f" con {num2words(cents, lang='es')} centavo" + ("" if cents == 1 else "s")
    return said


def _say_time(match: re.Match[str]) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    hour = "una" if hours == 1 else str(num2words(hours, lang="es"))
    return f"{hour} en punto" if minutes == 0 else f"{hour} y {num2words(minutes, lang='es')}"
