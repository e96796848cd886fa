"""Inverse text normalization for Spanish (es-US): 'cuatro uno uno uno' -> 4111, 'mil doscientos' -> 1200,
'treinta y uno de enero de mil novecientos ochenta' -> '31 de enero de 1980', 'cincuenta dólares con veinte
centavos' -> '$50.20'.

Number words come from num2words (redaction/numbers_es.py). As in English, a run of number words splits into
cardinal chunks: one chunk reads as a quantity ('dos mil veinticuatro' -> 2024), several as digits ('cuarenta y
uno once' -> 4111). Written by hand: the grammar of a Spanish cardinal (which word may follow which), months,
and the words around amounts, percentages, times and e-mail addresses. Written text passes through unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from redaction.numbers_es import (
    HUNDREDS,
    MILLION,
    TEEN,
    TENS,
    THOUSAND,
    UNIT,
    cardinal_words,
    fold,
    kind_of,
    ordinal_words,
)

MONTHS = "enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre diciembre".split()
ARTICLES = frozenset({"un", "una"})  # numbers only before a scale ('un millón') or after 'y' ('treinta y una')
_WORDS = cardinal_words()
_TOKEN = re.compile(r"\S+")
_EDGE = re.compile(r"^([\"'(\[¿¡]*)(.*?)([\"')\].,!?;:]*)$", re.DOTALL)
_DIGITS = re.compile(r"^\d+$")
_QUICK = re.compile(
    r"\b(?:" + "|".join(sorted(set(_WORDS) | set(ordinal_words()), key=len, reverse=True)) + r"|arroba|por ciento)\b"
)
_MONTH = "|".join(MONTHS)
_DAY_WORDS = {fold(w): n for w, n in ordinal_words().items() if n == 1} | {w: v for w, v in _WORDS.items() if v < 10}
_DAY = re.compile(
    rf"\b(\d{{1,2}}|{'|'.join(sorted(_DAY_WORDS, key=len, reverse=True))})(\s+de\s+(?:{_MONTH})\b)", re.IGNORECASE
)
_DOLLARS = re.compile(
    r"\b(\d+(?:,\d{3})*)\s+d[oó]lar(?:es)?(?:\s+(?:con|y)\s+(\d{1,2})\s+centavos?)?(?!\w)", re.IGNORECASE
)
_CENTS = re.compile(r"\b(\d{1,2})\s+centavos?\b", re.IGNORECASE)
_PERCENT = re.compile(r"\b(\d+(?:[.,]\d+)?)\s+por\s+ciento\b", re.IGNORECASE)
_CLOCK = re.compile(r"\b(las|la)\s+(1[0-2]|[1-9]|una)\s+y\s+(media|cuarto|[0-5]?\d)\b", re.IGNORECASE)
_O_CLOCK = re.compile(r"\b(las|la)\s+(1[0-2]|[1-9])\s+en\s+punto\b", re.IGNORECASE)
_EMAIL = re.compile(
    r"\b([a-z0-9ñ]+(?:\s+(?:punto|guion bajo|guion|guión bajo|guión)\s+[a-z0-9ñ]+)*)\s+arroba\s+"
    r"([a-z0-9]+(?:\s+punto\s+[a-z0-9]+)*\s+punto\s+(?:com|org|net|edu|gov|io|co|us|mx|es|info))\b",
    re.IGNORECASE,
)
_EMAIL_WORDS = {" guion bajo ": "_", " guión bajo ": "_", " punto ": ".", " guion ": "-", " guión ": "-"}
UNIT_WORDS = frozenset({"dolares", "dolar", "centavos", "centavo", "por", "mil", "millones", "millon"})


@dataclass
class _Token:
    start: int
    end: int
    lead: str
    word: str  # folded, edges stripped
    trail: str


def to_written(text: str) -> str:
    """Spanish spoken forms in `text` to written forms; text already written comes back as it was."""
    if not text or not _QUICK.search(fold(text)):
        return text
    text = _EMAIL.sub(_email, text)
    text = _numbers(text)
    text = _DAY.sub(_day, text)
    text = _DOLLARS.sub(_dollars, text)
    text = _CENTS.sub(lambda m: f"$0.{int(m.group(1)):02d}", text)
    text = _PERCENT.sub(lambda m: f"{m.group(1)}%", text)
    text = _CLOCK.sub(_clock, text)
    return _O_CLOCK.sub(lambda m: f"{m.group(1)} {m.group(2)}:00", text)


def _email(match: re.Match[str]) -> str:
    local, domain = f" {match.group(1)} ", f" {match.group(2)} "
    for spoken, written in _EMAIL_WORDS.items():
        local, domain = local.replace(spoken, written), domain.replace(spoken, written)
    return f"{local.strip().replace(' ', '')}@{domain.strip().replace(' ', '')}".lower()


def _day(match: re.Match[str]) -> str:
    day = match.group(1)
    number = int(day) if day.isdigit() else _DAY_WORDS[fold(day)]
    return f"{number}{match.group(2)}" if 1 <= number <= 31 else match.group(0)


def _dollars(match: re.Match[str]) -> str:
    cents = match.group(2)
    return f"${match.group(1)}" + (f".{int(cents):02d}" if cents else "")


def _clock(match: re.Match[str]) -> str:
    minutes = {"media": "30", "cuarto": "15"}.get(match.group(3).lower(), match.group(3).zfill(2))
    hour = "1" if match.group(2).lower() == "una" else match.group(2)
    return f"{match.group(1)} {hour}:{minutes}"


def _tokens(text: str) -> list[_Token]:
    tokens = []
    for match in _TOKEN.finditer(text):
        parts = _EDGE.match(match.group(0))
        assert parts is not None
        tokens.append(_Token(match.start(), match.end(), parts.group(1), fold(parts.group(2)), parts.group(3)))
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
        following = [t.word for t in tokens[end : end + 2]]
        written = _render_run(run, tokens[i - 1].word if i else "", following)
        if written is not None:
            out.append(text[cursor : run[0].start])
            out.append(run[0].lead + written + run[-1].trail)
            cursor = run[-1].end
        i = end
    out.append(text[cursor:])
    return "".join(out)


def _numeric(tokens: list[_Token], index: int, start: int) -> bool:
    word = tokens[index].word
    if _DIGITS.match(word):
        return True
    if word not in _WORDS:
        return False
    after = tokens[index + 1].word if index + 1 < len(tokens) else ""
    before = tokens[index - 1].word if index > 0 else ""
    if word in ARTICLES:  # 'un millón', 'treinta y una'; not 'una tarjeta'
        return _WORDS.get(after, 0) >= 1000 or (index > start and before == "y")
    return not (word == "ciento" and before == "por")  # 'por ciento' is a percentage


def _run_end(tokens: list[_Token], start: int) -> int:
    """End of the run of number words from `start` (itself when there is none); 'y' joins tens and a unit."""
    end = start
    while end < len(tokens):
        token = tokens[end]
        joinable = _numeric(tokens, end, start) or (token.word == "y" and end > start and _joins(tokens, end))
        if not joinable or (token.lead and end > start):
            break
        end += 1
        if token.trail and token.trail != ",":
            break
    return end


def _joins(tokens: list[_Token], index: int) -> bool:
    """'y' belongs to a number only between tens and a unit: 'treinta y uno', not 'cuatro y cinco'."""
    before = tokens[index - 1]
    after = tokens[index + 1].word if index + 1 < len(tokens) else ""
    return (
        not before.trail and kind_of(_WORDS.get(before.word, 0)) == TENS and after in _WORDS and 1 <= _WORDS[after] <= 9
    )


def _render_run(run: list[_Token], before: str, following: list[str]) -> str | None:
    """Digits for a run of number words, or None to leave it as spoken (a lone small number in prose)."""
    words = [t.word for t in run]
    if all(_DIGITS.match(w) for w in words):
        return None
    groups: list[list[str]] = [[]]
    for token in run:
        groups[-1].append(token.word)
        if token.trail == ",":
            groups.append([])
    rendered = [_render_group(g) for g in groups if g]
    chunks = [c for r in rendered for c in r]
    after = following[0] if following else ""
    lone_word = len(run) == 1 and words[0] in _WORDS and (_WORDS[words[0]] < 10 or _WORDS[words[0]] >= 1000)
    if lone_word and after not in UNIT_WORDS:
        return None  # 'uno de ellos', 'dos opciones', 'mil gracias': prose keeps them as words
    if len(rendered) == 1 and len(chunks) == 2 and before in ("las", "la") and _is_clock(chunks):
        return f"{int(chunks[0])}:{chunks[1]}"  # 'a las diez treinta' -> a las 10:30
    written = ["".join(r) for r in rendered if r]
    if [len(g) for g in written] == [3, 3, 4]:
        return "-".join(written)  # a phone number read in its groups
    return " ".join(written)


def _is_clock(chunks: list[str]) -> bool:
    return 1 <= int(chunks[0]) <= 12 and len(chunks[1]) == 2 and 0 <= int(chunks[1]) <= 59


def _render_group(words: list[str]) -> list[str]:
    """Chunks of one comma-free group: ['41', '11'] for 'cuarenta y uno once', ['2024'] for 'dos mil veinticuatro'."""
    cardinal = _Cardinal()
    for index, word in enumerate(words):
        scale_next = index + 1 < len(words) and _WORDS.get(words[index + 1], 0) >= 1000
        if _DIGITS.match(word) and scale_next and len(word) <= 3:
            cardinal.close()
            cardinal.scale(_WORDS[words[index + 1]], int(word))  # '4 mil' -> 4000
        elif _DIGITS.match(word):
            cardinal.close()
            cardinal.chunks.append(word)
        elif word != "y" and not (index and _DIGITS.match(words[index - 1]) and _WORDS[word] >= 1000):
            cardinal.add(_WORDS[word])
    cardinal.close()
    return cardinal.chunks


class _Cardinal:
    """Accumulates number words into cardinal chunks; a word that cannot extend the current one starts another."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self._total = 0  # thousands and millions already read
        self._group = 0  # below a thousand
        self._last = ""

    def add(self, value: int) -> None:
        kind = kind_of(value)
        if kind in (THOUSAND, MILLION):
            self.scale(value)
            return
        if not self._extends(kind):
            self.close()
        if value == 0:  # 'cero' is a digit of its own
            self.chunks.append("0")
            return
        self._group += value
        self._last = kind

    def _extends(self, kind: str) -> bool:
        last = self._last
        if last in ("", THOUSAND, MILLION):
            return True
        if last == HUNDREDS:
            return kind in (TENS, TEEN, UNIT) and self._group % 100 == 0
        return last == TENS and kind == UNIT and self._group % 10 == 0

    def scale(self, scale: int, multiplier: int = 0) -> None:
        """'mil' and 'millón' multiply what came before them ('dos mil'), or one; a second scale of the same
        size starts another number."""
        again = self._last == THOUSAND or self._total % 10**6 >= 1000 if scale == 1000 else self._total >= 10**6
        if again:
            self.close()
        self._total += (multiplier or self._group or 1) * scale
        self._group = 0
        self._last = THOUSAND if scale == 1000 else MILLION

    def close(self) -> None:
        if self._last:
            self.chunks.append(str(self._total + self._group))
        self._total, self._group, self._last = 0, 0, ""
