"""Finds sensitive spans in written text. Pure functions: text and what the conversation expects in, spans out."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources

from redaction import spanish
from redaction.cues import cued
from redaction.entities import EntityId
from redaction.mentions import mentions
from redaction.numbers_es import fold

E = EntityId


CARD_COMPLETE_DIGITS = 15  # a card read in pieces is taken as finished once this many digits were heard


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    entity: str  # an EntityId value or a custom rule's name
    keep_last: int = 0  # trailing digits left visible (card numbers, SSN)


# A number as a person reads it out: digits in groups separated by single spaces or hyphens. Prices, decimals,
# times, percentages and dates written with '/' are not candidates.
NUMBER = re.compile(r"(?<![\w$£€.,:/#])\d+(?:[ -]\d+)*(?![\w%#]|[.,:/]\d)")
SSN_FORMAT = re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])")
PHONE_FORMAT = re.compile(
    r"(?<![\w+])(?:\+?1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!\w)|(?<![\w+])\+\d{10,14}(?!\w)"
)
EMAIL = re.compile(r"\b([A-Za-z0-9][A-Za-z0-9._%+-]*)@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
DATE = re.compile(
    rf"\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS}(?:,?\s+\d{{4}})?\b"
    r"|\b\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})\b",
    re.IGNORECASE,
)
PASSWORD_VALUE = re.compile(
    r"\b(?:password|passcode|pass code|passphrase)(?:\s+(?:is|was|would be|should be))?\s*[:,]?\s+(\S+(?:\s+\S+){0,3})",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z0-9'@._+-]+")

# Keywords of the entities that redaction/mentions.py does not match (its phrases cover the PCI ones, DOB and
# PASSWORD, with the ASR's mishearings).
KEYWORDS: dict[EntityId, re.Pattern[str]] = {
    E.PHONE_NUMBER: re.compile(
        r"\b(?:phone|telephone|cell|mobile|callback|call back|call you|reach you|fax)\b", re.IGNORECASE
    ),
    E.EMAIL: re.compile(r"\be-?mail\b", re.IGNORECASE),
}
NOT_A_CARD = re.compile(
    r"\b(?:reference|tracking|order|confirmation|invoice|policy|member|case|ticket|routing|account|serial|"
    r"claim|booking|shipment|transaction)\b",
    re.IGNORECASE,
)
# Answer words that are not the secret itself: kept when a whole answer is masked as a password.
FILLER = frozenset(
    "sure yes yeah yep ok okay so um uh it it's its is was my the a an password passcode that's that be "
    "i i'm think and of course please here you go thanks thank".split()
)


@cache
def profanity_words(language: str = "en") -> frozenset[str]:
    name = "wordlists/profanity_es.txt" if language == "es" else "wordlists/profanity.txt"
    text = resources.files("redaction").joinpath(name).read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


# Card lengths by the first digits of the number (the issuer's range): Amex, Diners, JCB, Visa,
# Mastercard (51-55 and 2221-2720), Discover and UnionPay, Maestro.
CARD_LENGTHS: tuple[tuple[re.Pattern[str], frozenset[int]], ...] = (
    (re.compile(r"3[47]"), frozenset({15})),
    (re.compile(r"3(?:0[0-5]|[689])"), frozenset(range(14, 20))),
    (re.compile(r"35(?:2[89]|[3-8])"), frozenset(range(16, 20))),
    (re.compile(r"4"), frozenset({13, 16, 19})),
    (re.compile(r"5[1-5]|2(?:2[2-9]|[3-6]|7[01]|720)"), frozenset({16})),
    (re.compile(r"6(?:011|4[4-9]|5|2)"), frozenset(range(16, 20))),
    (re.compile(r"50(?:18|20|38)|5893|6304|6759|676[1-3]"), frozenset(range(12, 20))),
)


def is_card_ending_here(digits: str) -> bool:
    """A card ends at the last digit: Luhn-valid, of a length its issuer uses, and no usual 15 or 16 digit
    card ending before it (a card and its CVV in one breath can pass Luhn by chance). Only then may its last
    four be shown: when in doubt, mask."""
    if not (13 <= len(digits) <= 19 and luhn_valid(digits)):
        return False
    if not any(prefix.match(digits) and len(digits) in lengths for prefix, lengths in CARD_LENGTHS):
        return False
    return len(digits) <= 16 or not any(luhn_valid(digits[:n]) for n in (15, 16))


LAST_FOUR = re.compile(
    r"(?:\b(?:ending|ends|end)\s+(?:in|with)|\blast\s+(?:four|4)(?:\s+digits)?(?:\s+(?:are|is|of))?)\s*[:,]?\s*$",
    re.IGNORECASE,
)


def names_the_last_four(text: str, start: int, digits: str, language: str = "en") -> bool:
    """ "the card ending in 1234": four digits at `start` said as a card's last four, which may be shown."""
    last_four = spanish.LAST_FOUR if language == "es" else LAST_FOUR
    return len(digits) == 4 and bool(last_four.search(text, 0, start))


def digits_of(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def mentioned(text: str, entities: Collection[EntityId], language: str = "en") -> set[EntityId]:
    """Entities that `text` names (the agent's prompt, or the utterance itself), however the ASR spelled them."""
    keywords = spanish.KEYWORDS if language == "es" else KEYWORDS
    found = {entity for entity in entities if entity in keywords and keywords[entity].search(text)}
    return found | mentions(text, entities, language) | cued(text, entities, language)


def not_a_card(text: str, language: str = "en") -> bool:
    """Whether `text` names its number as another kind of number: a reference, order, tracking... number."""
    return bool((spanish.NOT_A_CARD if language == "es" else NOT_A_CARD).search(text))


@dataclass(frozen=True)
class NumberContext:
    """What is known around an utterance's numbers."""

    expected: frozenset[EntityId]  # asked for by the other party, or named in this utterance
    previous_digits: str = ""  # digits of this speaker's recent unfinished number (a card read in pieces)
    card_in_progress: bool = False  # those digits were taken as the start of a card, or a card was just read
    named_otherwise: bool = False  # the utterance calls its number a reference, order, tracking... number

    def expected_number(self, active: frozenset[EntityId]) -> EntityId | None:
        """The secret number this utterance is expected to hold, if any: then every digit in it is masked."""
        for entity in (E.CVV, E.PIN, E.SSN):
            if entity in self.expected and entity in active:
                return entity
        return E.CREDIT_CARD_NUMBER if self.card_expected and E.CREDIT_CARD_NUMBER in active else None

    @property
    def card_expected(self) -> bool:
        """A card number was asked for or named, or this speaker is half way through reading one."""
        in_progress = self.card_in_progress and len(self.previous_digits) < CARD_COMPLETE_DIGITS
        return in_progress or (E.CREDIT_CARD_NUMBER in self.expected and not self.named_otherwise)


def number_spans(
    text: str, active: frozenset[EntityId], context: NumberContext, language: str = "en"
) -> Iterator[Span]:
    """Card, CVV, PIN, SSN and phone numbers among the digit groups of `text`."""
    for match in NUMBER.finditer(text):
        if names_the_last_four(text, match.start(), digits_of(match.group(0)), language):
            continue
        span = classify_number(match.group(0), context, active)
        if span is not None:
            entity, keep_last = span
            yield Span(match.start(), match.end(), entity, keep_last)


def classify_number(number: str, context: NumberContext, active: frozenset[EntityId]) -> tuple[str, int] | None:
    digits = digits_of(number)
    n = len(digits)
    expected = context.expected
    card_on = E.CREDIT_CARD_NUMBER in active
    if card_on and 13 <= n <= 19 and luhn_valid(digits):
        return E.CREDIT_CARD_NUMBER, 4 if is_card_ending_here(digits) else 0
    if card_on and probable_card(digits, context):
        return E.CREDIT_CARD_NUMBER, 0  # no Luhn-valid card ends here: its last four could be a CVV
    joined = context.previous_digits + digits
    if card_on and context.previous_digits and is_card_ending_here(joined):
        return E.CREDIT_CARD_NUMBER, 4 if n >= 4 else 0  # the last piece of a card read over several utterances
    if E.SSN in active and (SSN_FORMAT.fullmatch(number) or (n == 9 and E.SSN in expected)):
        return E.SSN, 4
    if E.CVV in active and n in (3, 4) and E.CVV in expected:
        return E.CVV, 0
    if E.PIN in active and 4 <= n <= 8 and E.PIN in expected:
        return E.PIN, 0
    in_progress = context.card_in_progress and len(context.previous_digits) < CARD_COMPLETE_DIGITS
    if card_on and n >= 3 and (in_progress or (n >= 4 and E.CREDIT_CARD_NUMBER in expected)):
        return E.CREDIT_CARD_NUMBER, 4 if 13 <= n <= 19 and luhn_valid(digits) else 0
    if E.SSN in active and n >= 4 and E.SSN in expected:
        return E.SSN, 4 if n == 9 else 0
    if E.PHONE_NUMBER in active and (n in (10, 11) or (n == 7 and E.PHONE_NUMBER in expected)):
        return E.PHONE_NUMBER, 0
    return None


def probable_card(digits: str, context: NumberContext) -> bool:
    """A long run that starts like a card but fails Luhn: ASR drops, repeats or mishears digits ("for" for 4).

    PCI asks for recall first: such a run is masked unless the utterance names it as something else.
    """
    return 13 <= len(digits) <= 25 and digits[0] in "3456" and not context.named_otherwise


def phone_spans(text: str) -> Iterator[Span]:
    for match in PHONE_FORMAT.finditer(text):
        yield Span(match.start(), match.end(), E.PHONE_NUMBER)


def email_spans(text: str) -> Iterator[Span]:
    for match in EMAIL.finditer(text):
        yield Span(match.start(1), match.end(1), E.EMAIL)


def dob_spans(text: str, language: str = "en") -> Iterator[Span]:
    for match in (spanish.DATE if language == "es" else DATE).finditer(text):
        yield Span(match.start(), match.end(), E.DOB)


def password_spans(text: str, expected: bool, language: str = "en") -> Iterator[Span]:
    """The words after 'password is'; when the agent asked for one, every word of the answer but filler."""
    spanish_words = language == "es"
    value, word_pattern = (spanish.PASSWORD_VALUE, spanish.WORD) if spanish_words else (PASSWORD_VALUE, _WORD)
    filler, folded = (spanish.FILLER, fold) if spanish_words else (FILLER, str.lower)
    for match in value.finditer(text):
        for word in word_pattern.finditer(match.group(1)):
            if folded(word.group(0)) not in filler:
                yield Span(match.start(1) + word.start(), match.start(1) + word.end(), E.PASSWORD)
    if expected:
        for word in word_pattern.finditer(text):
            if folded(word.group(0)).strip(".,") not in filler:
                yield Span(word.start(), word.end(), E.PASSWORD)


def profanity_spans(text: str, language: str = "en") -> Iterator[Span]:
    words = profanity_words(language)
    word_pattern, folded = (spanish.WORD, fold) if language == "es" else (_WORD, str.lower)
    for word in word_pattern.finditer(text):
        if folded(word.group(0)).strip(".,'") in words:
            yield Span(word.start(), word.end(), E.PROFANITY)
