"""Spanish number words and their values, read from num2words' Spanish generator rather than written by hand.

Every cardinal below a thousand that num2words spells as one word gives a word's value ('quince', 'veintidós',
'cuarenta', 'doscientos'); 'ciento', 'mil' and 'millón' come from its spelling of 101, 1000 and 10**6.
Written by hand: the feminine and shortened forms ('doscientas', 'veintiuna', 'veintiún'), 'un'/'una', and the
spellings without accents that a transcript may carry (words are kept and looked up folded: 'veintidos', 'millon').
"""

from __future__ import annotations

import unicodedata
from functools import cache

from num2words import num2words


def fold(word: str) -> str:
    """Lower case without accents: 'Dieciséis' -> 'dieciseis' ('ñ' becomes 'n' too)."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _spelled(number: int) -> list[str]:
    return str(num2words(number, lang="es")).split()


@cache
def cardinal_words() -> dict[str, int]:
    """Folded word -> value for every one-word Spanish cardinal below a thousand, the hundreds' 'ciento', and
    the scales ('mil' 1000, 'millón'/'millones' 10**6)."""
    words: dict[str, int] = {}
    for number in range(1000):
        spelled = _spelled(number)
        if len(spelled) == 1:
            words[spelled[0]] = number
    words[_spelled(101)[0]] = 100  # 'ciento' uno
    for word, value in list(words.items()):
        if value >= 200 and word.endswith("os"):
            words[word[:-2] + "as"] = value  # 'doscientas' (personas)
        if value > 20 and word.endswith("uno"):
            words[word[:-3] + "ún"] = words[word[:-3] + "una"] = value  # 'veintiún años', 'veintiuna personas'
    words[_spelled(1000)[0]] = 1000
    words[_spelled(10**6)[-1]] = 10**6
    words[_spelled(2 * 10**6)[-1]] = 10**6
    words["una"] = 1  # 'la una', 'una tarjeta'?: read as 1 only where a number is read (see itn_es)
    words["un"] = 1
    return {fold(word): value for word, value in words.items()}


UNIT, TEEN, TENS, HUNDREDS, THOUSAND, MILLION = "unit", "teen", "tens", "hundreds", "thousand", "million"


def kind_of(value: int) -> str:
    """What a word of that value can join: units after tens ('treinta y uno'), everything after hundreds."""
    if value < 10:
        return UNIT
    if value < 30:
        return TEEN  # diez ... veintinueve are one word each and take no unit after them
    if value < 100:
        return TENS
    if value < 1000:
        return HUNDREDS
    return THOUSAND if value == 1000 else MILLION


@cache
def ordinal_words() -> dict[str, int]:
    """Folded ordinal -> value for 1-10 ('primero', 'tercero'): dates read the first day as 'primero'."""
    words = {fold(str(num2words(n, lang="es", to="ordinal"))): n for n in range(1, 11)}
    words["primer"] = 1
    return words


def digit_values() -> dict[str, str]:
    """The digits each number word writes when it is read as part of a run of digits: 'cuarenta' 40, 'mil' 000
    (the fail-safe PCI rule counts them), without 'un'/'una', which are articles more often than digits."""
    words = cardinal_words().items()
    values = {word: str(value) for word, value in words if value < 1000 and word not in ("un", "una")}
    values[fold(_spelled(1000)[0])] = "000"
    return values
