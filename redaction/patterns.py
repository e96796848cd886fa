"""Entities with a written shape of their own: network addresses, wallets, ages, dates, card expiry dates, and
the free-text answers that follow a cue (a username, a security answer)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from stdnum import bic, bitcoin

from redaction import catalogue_es, spanish
from redaction.cues import cue_ends
from redaction.detectors import DATE, Span
from redaction.entities import EntityId
from redaction.numbers_es import fold

E = EntityId

IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\s?\.\s?\d{1,3}){3}(?![\w]|\.\d)")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{0,4}(?:::?[0-9A-Fa-f]{1,4})*(?![\w:])")
MAC = re.compile(r"(?<![\w:-])[0-9A-Fa-f]{2}(?:([:-])[0-9A-Fa-f]{2})(?:\1[0-9A-Fa-f]{2}){4}(?![\w:-])")
URL = re.compile(  # possessive and anchored at a label's start: "a.a.a.a..." stays linear
    r"(?<![\w.@-])(?:https?://)?(?:[A-Za-z0-9-]++\.)++(?:com|org|net|edu|gov|io|co|us|info|biz|me|app|dev|ai|uk|ca"
    r"|mx|es)\b(?:/[\w./?=&%-]*+)?",
    re.IGNORECASE,
)
WALLET = re.compile(r"(?<!\w)(?:[13][1-9A-HJ-NP-Za-km-z]{25,34}|bc1[02-9ac-hj-np-z]{11,71}|0x[0-9a-fA-F]{40})(?!\w)")
AGE = re.compile(
    r"\b(\d{1,3})(?:\s|-)(?:years?|yrs?)(?:\s|-)old\b|\b(?:age|aged|age is)\s+(\d{1,3})\b"
    r"|\b(?:i'm|i am|he's|she's|he is|she is)\s+(\d{1,3})\b(?!\s*(?:dollars|minutes|percent|%|am|pm|\$))",
    re.IGNORECASE,
)
EXPIRY = re.compile(r"(?<![\w/])(?:0?[1-9]|1[0-2])\s?/\s?(?:\d{2}|20\d{2})(?![\w/])")
_ANSWER_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'._@-]*")
_SPANISH_ANSWER_WORD = re.compile(r"[^\W_][\w'.@-]*")  # with accents: "Ramírez"
# Words around an answer that are not the answer.
FILLER = frozenset(
    "hi hello hey this speaking calling here sure yes yeah yep yup ok okay so um uh hmm it it's its is was my the "
    "a an that's that be i i'm think and of course please here you go thanks thank well oh let me see like just "
    "would called named name maiden mother's "
    "mother first pet street school answer question security that'd his her their our your user username id "
    "login handle as in for at on to with by live lives living address".split()
)
# Where an answer given after its cue ends.
ENDS_ANSWER = frozenset("and but because so then which can could i i'm will would do does did".split())
MAX_ANSWER_WORDS = 4


def ip_spans(text: str) -> Iterator[Span]:
    for match in IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(re.sub(r"\s", "", match.group(0)))
        except ValueError:
            continue
        yield Span(match.start(), match.end(), E.IP_ADDRESS)
    for match in IPV6.finditer(text):
        try:
            ipaddress.IPv6Address(match.group(0))
        except ValueError:
            continue
        yield Span(match.start(), match.end(), E.IP_ADDRESS)


def mac_spans(text: str) -> Iterator[Span]:
    for match in MAC.finditer(text):
        yield Span(match.start(), match.end(), E.MAC_ADDRESS)


def url_spans(text: str) -> Iterator[Span]:
    for match in URL.finditer(text):
        if "@" not in text[max(0, match.start() - 1) : match.start()]:  # an e-mail's domain is EMAIL's
            yield Span(match.start(), match.end(), E.URL)


def wallet_spans(text: str) -> Iterator[Span]:
    for match in WALLET.finditer(text):
        code = match.group(0)
        if code.startswith("0x") or bitcoin.is_valid(code):
            yield Span(match.start(), match.end(), E.CRYPTO)


_CODE_WORD = re.compile(r"[A-Za-z0-9]{8}(?:[A-Za-z0-9]{3})?(?!\w)")


def bic_spans(text: str) -> Iterator[Span]:
    """A SWIFT/BIC code as one word after its cue, in any case ("the swift code is deutdeff"): ids.py reads
    only capitals as letters of a code."""
    for end in cue_ends(text, E.SWIFT_BIC):
        for word in _CODE_WORD.finditer(text, end, min(len(text), end + 24)):
            if bic.is_valid(word.group(0).upper()):
                yield Span(word.start(), word.end(), E.SWIFT_BIC)
                break


def age_spans(text: str, language: str = "en") -> Iterator[Span]:
    spanish_words = language == "es"
    for match in (catalogue_es.AGE if spanish_words else AGE).finditer(
        catalogue_es.folded(text) if spanish_words else text
    ):
        group = next(g for g in (1, 2, 3) if match.group(g))
        if int(match.group(group)) <= 120:
            yield Span(match.start(group), match.end(group), E.AGE)


def date_spans(text: str, language: str = "en") -> Iterator[Span]:
    for match in (spanish.DATE if language == "es" else DATE).finditer(text):
        yield Span(match.start(), match.end(), E.DATE)


def expiry_spans(text: str, cued: bool) -> Iterator[Span]:
    """'08/27' where an expiry date is named or asked for (a fraction or a date otherwise)."""
    if cued:
        for match in EXPIRY.finditer(text):
            yield Span(match.start(), match.end(), E.CARD_EXPIRY)


def answer_spans(text: str, entity: EntityId, expected: bool, language: str = "en") -> Iterator[Span]:
    """The words after the entity's cue ('my username is jdoe 42'); the whole answer, but filler, when the other
    party asked for it."""
    starts = [0] if expected else cue_ends(text, entity, language)
    spanish = language == "es"
    word_pattern = _SPANISH_ANSWER_WORD if spanish else _ANSWER_WORD
    filler, ends = (catalogue_es.FILLER, catalogue_es.ENDS_ANSWER) if spanish else (FILLER, ENDS_ANSWER)
    for start in starts:
        taken = 0
        for word in word_pattern.finditer(text, start):
            lowered = (fold if spanish else str.lower)(word.group(0)).strip(".,'")
            if not expected and (taken >= MAX_ANSWER_WORDS or (taken and lowered in ends)):
                break
            if lowered in filler:
                continue
            taken += 1
            yield Span(word.start(), word.end(), entity)
            if not expected and text[word.end() : word.end() + 1] in (".", "?", "!"):
                break
