"""Inverse text normalization for English: spoken forms to written ('twenty two' -> 22, 'four one one one' -> 4111).

Written text passes through unchanged, so the pass is safe on what the ASR model already formatted.
Numbers are parsed as runs of number words split into cardinal chunks: one chunk reads as a quantity
('two thousand twenty four' -> 2024), several chunks as digits ('forty one eleven' -> 4111).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNITS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ]
    )
}
TENS = {
    w: (i + 2) * 10
    for i, w in enumerate(["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"])
}
SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
REPEATERS = {"double": 2, "triple": 3}
ZERO_WORDS = {"oh", "o"}  # zero only inside a run of digits
SOUNDALIKES = {"for": "4", "fore": "4", "to": "2", "too": "2", "ate": "8", "won": "1"}  # ASR mishearings
ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
}
MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_NUMBER_WORDS = UNITS.keys() | TENS.keys() | SCALES.keys() | REPEATERS.keys() | ZERO_WORDS
_TOKEN = re.compile(r"\S+")
_EDGE = re.compile(r"^([\"'(\[]*)(.*?)([\"')\].,!?;:]*)$", re.DOTALL)
_DIGITS = re.compile(r"^\d+$")
_QUICK = re.compile(
    r"\b(?:"
    + "|".join(
        sorted(_NUMBER_WORDS | ORDINALS.keys() | {"at", "dot", "percent", "dollars?", "cents?"}, key=len, reverse=True)
    )
    + r")\b",
    re.IGNORECASE,
)
_EMAIL = re.compile(
    r"\b([a-z0-9]+(?:\s+(?:dot|underscore|dash|hyphen)\s+[a-z0-9]+)*)\s+at\s+"
    r"([a-z0-9]+(?:\s+dot\s+[a-z0-9]+)*\s+dot\s+(?:com|org|net|edu|gov|io|co|us|uk|info|biz))\b",
    re.IGNORECASE,
)
_EMAIL_WORDS = {" dot ": ".", " underscore ": "_", " dash ": "-", " hyphen ": "-"}
_CURRENCY = re.compile(r"\b(\d+(?:,\d{3})*)\s+dollars?(?:\s+and\s+(\d{1,2})\s+cents?)?\b", re.IGNORECASE)
_CENTS = re.compile(r"\b(\d{1,2})\s+cents?\b", re.IGNORECASE)
_PERCENT = re.compile(r"\b(\d+(?:\.\d+)?)\s+percent\b", re.IGNORECASE)
_TIME = re.compile(r"\b(1[0-2]|[1-9])\s?:?\s?([0-5]\d)?\s+(a\.?\s?m\.?|p\.?\s?m\.?)(?=\W|$)", re.IGNORECASE)
_OCLOCK = re.compile(r"\b(1[0-2]|[1-9])\s+o'clock\b", re.IGNORECASE)
_MONTH = "|".join(MONTHS)
_DATE = re.compile(rf"\b({_MONTH})\s+(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", re.IGNORECASE)
_DAY_OF_MONTH = re.compile(
    rf"\b(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)\s+of\s+({_MONTH})(?:,?\s+(\d{{4}}))?\b", re.IGNORECASE
)


@dataclass
class _Token:
    start: int
    end: int
    lead: str
    word: str  # lower case, edges stripped
    trail: str

    @property
    def numeric(self) -> bool:
        return (self.word in _NUMBER_WORDS and self.word not in ZERO_WORDS) or bool(_DIGITS.match(self.word))


def to_written(text: str) -> str:
    """Spoken forms in `text` to written forms; text already written comes back as it was."""
    if not text or not _QUICK.search(text):
        return text
    text = _EMAIL.sub(_email, text)
    text = _ordinals_in_dates(text)  # before numbers, so "thirty first" is read as one ordinal
    text = _numbers(text)
    text = _CURRENCY.sub(_currency, text)
    text = _CENTS.sub(lambda m: f"$0.{int(m.group(1)):02d}", text)
    text = _PERCENT.sub(r"\1%", text)
    text = _TIME.sub(_time, text)
    text = _OCLOCK.sub(r"\1:00", text)
    text = _DATE.sub(_date, text)
    return _DAY_OF_MONTH.sub(lambda m: _date_parts(m.group(2), m.group(1), m.group(3)), text)


def _email(match: re.Match[str]) -> str:
    local, domain = f" {match.group(1)} ", f" {match.group(2)} "
    for spoken, written in _EMAIL_WORDS.items():
        local, domain = local.replace(spoken, written), domain.replace(spoken, written)
    return f"{local.strip().replace(' ', '')}@{domain.strip().replace(' ', '')}".lower()


def _tokens(text: str) -> list[_Token]:
    tokens = []
    for match in _TOKEN.finditer(text):
        parts = _EDGE.match(match.group(0))
        assert parts is not None
        tokens.append(_Token(match.start(), match.end(), parts.group(1), parts.group(2).lower(), parts.group(3)))
    return tokens


def _numbers(text: str) -> str:
    tokens = _tokens(text)
    out, cursor, i = [], 0, 0
    while i < len(tokens):
        end = _run_end(tokens, i)
        if end == i:
            i += 1
            continue
        run = tokens[i:end]
        written = _render_run(run, tokens[i - 1].word if i else "", tokens[end].word if end < len(tokens) else "")
        if written is not None:
            out.append(text[cursor : run[0].start])
            out.append(run[0].lead + written + run[-1].trail)
            cursor = run[-1].end
        i = end
    out.append(text[cursor:])
    return "".join(out)


def _run_end(tokens: list[_Token], start: int) -> int:
    """End of the run of number words from `start` (itself when there is none); soundalikes join long runs."""
    end = start
    while end < len(tokens):
        token = tokens[end]
        joinable = token.numeric or (token.word == "and" and end > start and _continues_cardinal(tokens, end))
        if not joinable and token.word in ZERO_WORDS:  # "oh" is zero only among digits: "oh eight one five"
            ahead = tokens[end + 1 : end + 3]
            previous = tokens[end - 1].word if end > start else ""
            after_digit = previous in ZERO_WORDS or (previous in UNITS and UNITS[previous] < 10)
            joinable = after_digit or (
                bool(ahead) and ahead[0].numeric and (end > start or (len(ahead) == 2 and ahead[1].numeric))
            )
        if not joinable and token.word in SOUNDALIKES:
            joinable = _digit_neighbours(tokens, end) >= 3
        if not joinable or (token.lead and end > start):
            break
        end += 1
        if token.trail and token.trail not in (",",):
            break
    return end


def _continues_cardinal(tokens: list[_Token], index: int) -> bool:
    """'and' belongs to a number only between a scale and what follows it ('one hundred and five')."""
    before, after = tokens[index - 1].word, tokens[index + 1].word if index + 1 < len(tokens) else ""
    return before in SCALES and (after in UNITS or after in TENS)


def _digit_neighbours(tokens: list[_Token], index: int) -> int:
    count, j = 0, index - 1
    while j >= 0 and (tokens[j].word in UNITS or tokens[j].word in ZERO_WORDS or _DIGITS.match(tokens[j].word)):
        count, j = count + 1, j - 1
    j = index + 1
    while j < len(tokens) and (
        tokens[j].word in UNITS
        or tokens[j].word in ZERO_WORDS
        or tokens[j].word in SOUNDALIKES
        or _DIGITS.match(tokens[j].word)
    ):
        count, j = count + 1, j + 1
    return count


def _render_run(run: list[_Token], before: str, after: str) -> str | None:
    """Digits for a run of number words, or None to leave it as spoken (a lone small number in prose)."""
    words = [t.word for t in run]
    if all(_DIGITS.match(w) for w in words):
        return None  # already written
    groups: list[list[str]] = [[]]
    for token in run:
        groups[-1].append(token.word)
        if token.trail == ",":
            groups.append([])
    rendered = [_render_group(g) for g in groups if g]
    if any(r is None for r in rendered):
        return None
    chunks = [c for r in rendered if r is not None for c in r]
    lone_small = len(chunks) == 1 and len(run) == 1 and words[0] in UNITS and UNITS[words[0]] < 10
    if lone_small and not _unit_follows(after):
        return None  # "one of them", "two options": prose keeps small numbers as words
    if len(rendered) == 1 and len(chunks) == 2 and before in _TIME_PREPOSITIONS and _clock(chunks):
        return f"{int(chunks[0])}:{chunks[1]}"  # "at ten thirty" -> at 10:30
    if len(rendered) == 1 and len(chunks) >= 2 and before in MONTHS and 1 <= int(chunks[0]) <= 31:
        return f"{chunks[0]} {''.join(chunks[1:])}"  # "may twenty six nineteen seventy": day, then year
    written = ["".join(r) for r in rendered if r]
    if [len(g) for g in written] == [3, 3, 4]:
        return "-".join(written)  # "five five five, one two three, four five six seven" -> 555-123-4567
    return " ".join(written)


_TIME_PREPOSITIONS = {"at", "by", "around", "until", "till", "before", "after", "from"}


def _clock(chunks: list[str]) -> bool:
    return 1 <= int(chunks[0]) <= 12 and len(chunks[1]) == 2 and 0 <= int(chunks[1]) <= 59


def _unit_follows(word: str) -> bool:
    return word in {"dollars", "dollar", "cents", "cent", "percent", "am", "pm", "a.m", "p.m", "o'clock"}


def _render_group(words: list[str]) -> list[str] | None:
    """Chunks of one comma-free group: ['41', '11'] for 'forty one eleven', ['2024'] for 'two thousand twenty four'."""
    cardinal = _Cardinal()
    repeat = 1
    for word in words:
        if word in REPEATERS:
            cardinal.close()
            repeat = REPEATERS[word]
        elif _DIGITS.match(word) or word in SOUNDALIKES or word in ZERO_WORDS:
            cardinal.close()
            cardinal.chunks.append((word if _DIGITS.match(word) else SOUNDALIKES.get(word, "0")) * repeat)
            repeat = 1
        elif word in SCALES:
            if not cardinal.scale(SCALES[word]):
                return None  # "hundred" with nothing before it
        elif word != "and":
            number = UNITS.get(word, TENS.get(word, 0))
            if repeat > 1:
                cardinal.close()
                cardinal.chunks.append(str(number) * repeat)
                repeat = 1
            else:
                cardinal.add(number, "tens" if word in TENS else "teen" if number >= 10 else "unit")
    cardinal.close()
    return cardinal.chunks


class _Cardinal:
    """Accumulates number words into cardinal chunks; a word that cannot extend the current one starts another."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self._total = 0
        self._value = 0
        self._last = ""

    def add(self, number: int, kind: str) -> None:
        extends = (self._last == "tens" and kind == "unit" and number > 0) or self._last in ("hundred", "thousand")
        if not extends:
            self.close()
        self._value += number
        self._last = "tens_unit" if self._last == "tens" and extends else kind

    def scale(self, scale: int) -> bool:
        if not self._last or self._last in ("hundred", "thousand"):
            return False
        if scale == 100:
            self._value *= 100
            self._last = "hundred"
        else:
            self._total, self._value, self._last = (self._total + self._value) * scale, 0, "thousand"
        return True

    def close(self) -> None:
        if self._last:
            self.chunks.append(str(self._total + self._value))
        self._total, self._value, self._last = 0, 0, ""


def _ordinals_in_dates(text: str) -> str:
    """Ordinals become 1st, 22nd... next to a month ('March third', 'the third of March'), not in prose."""
    lowered = text.lower()
    if not any(month in lowered for month in MONTHS):
        return text
    text = _MONTH_ORDINAL.sub(
        lambda m: m.group(1) + " " + _ordinal(m.group(2), m.group(3)) if _is_month(m.group(1)) else m.group(0), text
    )
    return _ORDINAL_OF_MONTH.sub(
        lambda m: _ordinal(m.group(1), m.group(2)) + m.group(3) + m.group(4),
        text,
    )


def _is_month(word: str) -> bool:
    return word.lower() in MONTHS and (word.lower() != "may" or word[0] == "M")  # "you may first..." is prose


_ORDINAL_PHRASE = r"(?:(twenty|thirty)\s+)?(" + "|".join(ORDINALS) + r")\b"
_MONTH_ORDINAL = re.compile(rf"\b({_MONTH})\s+(?:the\s+)?{_ORDINAL_PHRASE}", re.IGNORECASE)
_ORDINAL_OF_MONTH = re.compile(rf"\b{_ORDINAL_PHRASE}(\s+of\s+)({_MONTH})\b", re.IGNORECASE)


def _ordinal(tens_word: str | None, word: str) -> str:
    number = TENS.get((tens_word or "").lower(), 0) + ORDINALS[word.lower()]
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _currency(match: re.Match[str]) -> str:
    cents = match.group(2)
    return f"${match.group(1)}" + (f".{int(cents):02d}" if cents else "")


def _time(match: re.Match[str]) -> str:
    minutes = match.group(2) or "00"
    meridiem = "AM" if match.group(3).lower().startswith("a") else "PM"
    return f"{match.group(1)}:{minutes} {meridiem}"


def _date(match: re.Match[str]) -> str:
    return _date_parts(match.group(1), match.group(2), match.group(3))


def _date_parts(month: str, day: str, year: str | None) -> str:
    if not 1 <= int(day) <= 31:
        return f"{month} {day}" + (f" {year}" if year else "")
    written = f"{month.capitalize()} {int(day)}"
    return f"{written}, {year}" if year else written
