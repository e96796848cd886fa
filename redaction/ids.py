"""Identifiers read out as codes: bank, government, health and vehicle numbers, as the ASR writes them ("D 1 2 3
4 5 6 7", "GB82 WEST 1234 5698 7654 32", "one h g c m 82633 a 004352").

Learned from Presidio's pattern recognizers: a format, a checksum where the id has one (python-stdnum's), and
context words. A format weak on its own (nine digits, say) counts only where the utterance or the question before
it names the entity; a format with a checksum, or a shape nothing else has, counts alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from stdnum import iban, luhn
from stdnum.au import abn, tfn
from stdnum.ca import sin
from stdnum.es import dni, nie
from stdnum.exceptions import ValidationError
from stdnum.gb import nhs
from stdnum.in_ import aadhaar, pan
from stdnum.it import codicefiscale
from stdnum.mx import curp, rfc
from stdnum.us import ein, itin, rtn

from redaction import catalogue_es
from redaction import spanish as spanish_words
from redaction.detectors import Span
from redaction.entities import EntityId
from redaction.numbers_es import fold

E = EntityId
MAX_TOKENS = 24  # tokens of one code run looked at: keeps a long run of digits linear, not quadratic


@dataclass(frozen=True)
class IdFormat:
    entity: EntityId
    shape: re.Pattern[str]  # over the run's letters and digits, upper case, separators dropped
    valid: Callable[[str], bool] | None = None
    needs_cue: bool = True  # counts only where the utterance or the question names the entity
    lengths: range = range(0)  # of the code, to look at each window of a run only for the formats it can be


def _stdnum(module: object) -> Callable[[str], bool]:
    check: Callable[[str], bool] = module.is_valid  # type: ignore[attr-defined]
    return check


def _npi(code: str) -> bool:
    return luhn.is_valid("80840" + code)


_VIN_VALUES = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGHJKLMNPRSTUVWXYZ",
               [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9], strict=True))}  # fmt: skip
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def _vin(code: str) -> bool:
    """North American check digit (position 9); an ASR error in a 17-character code rarely keeps it."""
    total = sum(_VIN_VALUES[c] * w for c, w in zip(code, _VIN_WEIGHTS, strict=True))
    check = total % 11
    return code[8] == ("X" if check == 10 else str(check))


def _dea(code: str) -> bool:
    d = [int(c) for c in code[2:]]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]


def _rfc(code: str) -> bool:
    try:
        rfc.validate(code, validate_check_digits=False)
    except ValidationError:
        return False
    return True


def _curp(code: str) -> bool:
    try:
        curp.validate(code, validate_check_digits=True)
    except ValidationError:
        return False
    return True


_A = "AC-HJKMNP-RT-Y"  # the letters of a Medicare MBI
FORMATS: tuple[IdFormat, ...] = tuple(
    IdFormat(entity, re.compile(shape), valid, needs_cue, range(low, high + 1))
    for entity, shape, valid, needs_cue, (low, high) in (
        (E.IBAN, r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", _stdnum(iban), False, (15, 34)),
        (E.VIN, r"[A-HJ-NPR-Z0-9]{17}", _vin, False, (17, 17)),
        (E.MEDICARE_MBI, rf"[1-9][{_A}][{_A}0-9]\d[{_A}][{_A}0-9]\d[{_A}]{{2}}\d{{2}}", None, False, (11, 11)),
        (E.MX_CURP, r"[A-Z]{4}\d{6}[HMX][A-Z]{5}[A-Z0-9]\d", _curp, False, (18, 18)),
        (E.MX_RFC, r"[A-Z&Ñ]{3,4}\d{6}[A-Z0-9]{3}", _rfc, False, (12, 13)),
        (E.IT_FISCAL_CODE, r"[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]", _stdnum(codicefiscale), False, (16, 16)),
        (E.ES_DNI, r"\d{8}[A-Z]", _stdnum(dni), False, (9, 9)),
        (E.ES_NIE, r"[XYZ]\d{7}[A-Z]", _stdnum(nie), False, (9, 9)),
        (E.UK_NINO, r"(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]", None, False, (9, 9)),
        (E.IN_PAN, r"[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z]", _stdnum(pan), False, (10, 10)),
        (E.DEA_NUMBER, r"[ABCDEFGHJKLMPRSTUX][A-Z9]\d{7}", _dea, False, (9, 9)),
        (E.ITIN, r"9\d{2}(?:5[0-9]|6[0-5]|7\d|8[0-8]|9[0-2]|9[4-9])\d{4}", _stdnum(itin), False, (9, 9)),
        (E.EIN, r"\d{9}", _stdnum(ein), True, (9, 9)),
        (E.BANK_ROUTING_NUMBER, r"[0-3]\d{8}", _stdnum(rtn), True, (9, 9)),
        (E.NPI, r"[12]\d{9}", _npi, True, (10, 10)),
        (E.UK_NHS, r"\d{10}", _stdnum(nhs), True, (10, 10)),
        (E.CA_SIN, r"[1-79]\d{8}", _stdnum(sin), True, (9, 9)),
        (E.IN_AADHAAR, r"[2-9]\d{11}", _stdnum(aadhaar), True, (12, 12)),
        (E.AU_TFN, r"\d{8,9}", _stdnum(tfn), True, (8, 9)),
        (E.AU_ABN, r"\d{11}", _stdnum(abn), True, (11, 11)),
        (E.MILITARY_ID, r"\d{10}", None, True, (10, 10)),
        (E.PASSPORT_NUMBER, r"[A-Z]?\d{8,9}|[A-Z]{1,2}\d{6,7}", None, True, (7, 10)),
        (
            E.DRIVER_LICENSE,
            r"(?=.*\d)(?:[A-Z]{1,2}\d{4,14}|\d{6,13}|[A-Z0-9]{5,13})",
            None,
            True,
            (5, 16),
        ),
        (E.LICENSE_PLATE, r"(?=[A-Z0-9]*\d)[A-Z0-9]{2,8}", None, True, (2, 8)),
        (E.SWIFT_BIC, r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?", None, True, (8, 11)),
        (E.MEDICAL_RECORD_NUMBER, r"[A-Z]{0,3}\d{5,12}", None, True, (5, 15)),
        (E.HEALTH_PLAN_ID, r"[A-Z]{0,4}\d{5,14}[A-Z]?", None, True, (5, 19)),
        (E.BANK_ACCOUNT_NUMBER, r"\d{6,17}", None, True, (6, 17)),
        (E.ACCOUNT_NUMBER, r"[A-Z]{0,4}\d{5,16}[A-Z]{0,2}", None, True, (5, 22)),
    )
)
_BY_LENGTH_CACHE: dict[frozenset[EntityId], dict[int, tuple[IdFormat, ...]]] = {}

# A code run: tokens of letters and digits, or digit words next to them, separated by a space, hyphen or dot.
_TOKEN = re.compile(r"[A-Za-z0-9']+")
_SPANISH_TOKEN = re.compile(r"[^\W_]+")  # "número" is one word, not "n" and "mero"
_SEPARATOR = re.compile(r"[ \t]*[-.,/]?[ \t]*")
_DIGIT_WORDS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine".split())} | {
    "oh": "0"
}
# Written words that are never part of a code, even in capitals.
_VOWELS = frozenset("aeiouy")
_NOT_CODE = frozenset("I A AN AM IS IT MY THE AND OR OF TO IN ON AT NO SO OK".split())


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    code: str  # what it adds to the run: upper case, a digit word as its digit
    sure: bool = True  # a code token wherever it stands; else only next to one with a digit ("gep g64")


# Short words that are never a group of a code, even next to digits.
_WORDS = frozenset(
    "a an the and or of to in on at is it its my me we you he she his her our are was for not but so if as by "
    "be do no yes ok okay um uh and then this that with from".split()
)


def _code_token(word: str, start: int, end: int, spanish: bool = False) -> _Token | None:
    lowered = fold(word) if spanish else word.lower()
    if "'" in word:
        return None
    if any(c.isdigit() for c in word):
        return _Token(start, end, word.upper())
    if lowered in _DIGIT_WORDS and not spanish:
        return _Token(start, end, _DIGIT_WORDS[lowered])
    if spanish:
        if lowered in spanish_words.DIGIT_WORDS:  # a digit word ITN left alone: "G T nueve"
            return _Token(start, end, spanish_words.DIGIT_WORDS[lowered])
        if lowered in catalogue_es.LETTER_NAMES:  # "doce hache de efe": letters spelled by their names
            return _Token(start, end, catalogue_es.LETTER_NAMES[lowered])
        if lowered in catalogue_es.SHORT_WORDS:
            return None
    if len(word) == 1 or (word.isupper() and len(word) <= 11 and word not in _NOT_CODE):
        return _Token(start, end, word.upper())
    if len(word) <= 5 and not _VOWELS & set(lowered):  # "nfxh": a group of a code read out, never a word
        return _Token(start, end, word.upper())
    if len(word) <= 4 and lowered not in _WORDS:
        return _Token(start, end, word.upper(), sure=False)
    return None


def code_runs(text: str, language: str = "en") -> Iterator[list[_Token]]:
    """Runs of code-like tokens with only separators between them."""
    for run in _raw_runs(text, language == "es"):
        yield from _trusted(run)


def _raw_runs(text: str, spanish: bool) -> Iterator[list[_Token]]:
    run: list[_Token] = []
    last_end = -1
    for match in (_SPANISH_TOKEN if spanish else _TOKEN).finditer(text):
        token = _code_token(match.group(0), match.start(), match.end(), spanish)
        joined = token is not None and run and _SEPARATOR.fullmatch(text, last_end, match.start())
        if token is None or (run and not joined):
            if run:
                yield run
            run = [token] if token else []
        else:
            run.append(token)
        last_end = match.end()
    if run:
        yield run


def _trusted(run: list[_Token]) -> Iterator[list[_Token]]:
    """A run split where an unsure token has no neighbour with a digit: "uzpz 5210" stays, "book 4" does not."""
    digit = [any(c.isdigit() for c in t.code) for t in run]
    piece: list[_Token] = []
    for i, token in enumerate(run):
        near_digit = (i > 0 and digit[i - 1]) or (i + 1 < len(run) and digit[i + 1])
        if token.sure or near_digit:
            piece.append(token)
        elif piece:
            yield piece
            piece = []
    if piece:
        yield piece


def _formats_by_length(active: frozenset[EntityId]) -> dict[int, tuple[IdFormat, ...]]:
    table = _BY_LENGTH_CACHE.get(active)
    if table is None:
        grouped: dict[int, list[IdFormat]] = {}
        for fmt in FORMATS:
            if fmt.entity in active:
                for n in fmt.lengths:
                    grouped.setdefault(n, []).append(fmt)
        table = _BY_LENGTH_CACHE[active] = {n: tuple(f) for n, f in grouped.items()}
    return table


def id_spans(text: str, active: frozenset[EntityId], cued: set[EntityId], language: str = "en") -> Iterator[Span]:
    """The longest valid id in each code run, leftmost first; ids that need a cue only where one is named."""
    table = _formats_by_length(active)
    if not table:
        return
    for run in code_runs(text, language):
        run = run[:MAX_TOKENS]
        i = 0
        while i < len(run):
            found = _longest_at(run, i, table, cued)
            if found is None:
                i += 1
                continue
            j, entity = found
            yield Span(run[i].start, run[j].end, entity)
            i = j + 1


def _longest_at(
    run: list[_Token], i: int, table: dict[int, tuple[IdFormat, ...]], cued: set[EntityId]
) -> tuple[int, EntityId] | None:
    codes = [t.code for t in run]
    for j in range(len(run) - 1, i - 1, -1):
        code = "".join(codes[i : j + 1])
        formats = table.get(len(code), ())
        named = [f for f in formats if f.entity in cued] + [f for f in formats if f.entity not in cued]
        for fmt in named:  # a format the utterance names first: a passport number may be ITIN-shaped
            if (not fmt.needs_cue or fmt.entity in cued) and fmt.shape.fullmatch(code) and _valid(fmt, code):
                return j, fmt.entity
    return None


def _valid(fmt: IdFormat, code: str) -> bool:
    if fmt.valid is None:
        return True
    try:
        return fmt.valid(code)
    except (ValidationError, ValueError, KeyError, IndexError):
        return False
