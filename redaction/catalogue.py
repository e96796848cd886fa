"""The catalogue's detectors beyond the reference nine, run together on one utterance.

What the conversation expects (the entity the other party just asked for) turns a weak format into a find, and
for a name, address, account number or security answer masks the answer itself where no format or model
finds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from redaction import addresses, names, ner, patterns
from redaction.cues import cued
from redaction.detectors import Span
from redaction.entities import ENTITIES, REFERENCE, EntityId
from redaction.ids import FORMATS, id_spans
from redaction.mentions import mentions

E = EntityId
ID_ENTITIES = frozenset(f.entity for f in FORMATS)
# Asked for, the whole answer (but filler) is the entity, whatever its shape.
ANSWERED_WHOLE = frozenset({E.NAME, E.SECURITY_ANSWER, E.USERNAME})
ANSWERED_CODES = frozenset({E.ACCOUNT_NUMBER, E.BANK_ACCOUNT_NUMBER, E.HEALTH_PLAN_ID, E.MEDICAL_RECORD_NUMBER})


@dataclass(frozen=True)
class CatalogueInput:
    text: str
    active: frozenset[EntityId]  # the catalogue entities turned on
    expected: frozenset[EntityId]  # asked for by the other party
    remembered_names: frozenset[str] = frozenset()
    language: str = "en"  # 'es': Spanish cues and answers, and no English named-entity model


def catalogue_spans(u: CatalogueInput) -> list[Span]:
    active = u.active - REFERENCE
    if not active:
        return []
    named = (
        cued(u.text, active, u.language)
        | (u.expected & (active | {E.DOB}))  # a date asked for as a date of birth is DOB's
        | (mentions(u.text, {E.DOB}, u.language) & u.active)
    )
    spans = list(_shapes(u.text, active, named, u.language))
    if active & ID_ENTITIES and (any(c.isdigit() for c in u.text) or named & ID_ENTITIES):
        spans += id_spans(u.text, active, named, u.language)
    spans += _people(u, active, spans)
    return [Span(s.start, s.end, s.entity, ENTITIES[EntityId(s.entity)].keep_last) for s in _outermost(spans)]


def _outermost(spans: list[Span]) -> list[Span]:
    """A find inside a wider one (the ZIP of an address) adds nothing, and must not leave digits visible."""
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):  # stable: the first found names a tie
        if not any(k.start <= span.start and span.end <= k.end for k in kept):
            kept.append(span)
    return kept


def _shapes(text: str, active: frozenset[EntityId], named: set[EntityId], language: str) -> Iterator[Span]:
    has_digits = any(c.isdigit() for c in text)
    if has_digits:
        if E.ADDRESS in active:
            yield from addresses.address_spans(text, E.ADDRESS in named, language)
        if E.ZIP in active:
            yield from addresses.zip_spans(text, E.ZIP in named, language)
        if E.IP_ADDRESS in active:
            yield from patterns.ip_spans(text)
        if E.AGE in active:
            yield from patterns.age_spans(text, language)
        if E.CARD_EXPIRY in active:
            yield from patterns.expiry_spans(text, E.CARD_EXPIRY in named)
    if E.DATE in active and E.DOB not in named:  # a date of birth is DOB's (on or off)
        yield from patterns.date_spans(text, language)
    if E.MAC_ADDRESS in active:
        yield from patterns.mac_spans(text)
    if E.URL in active and "." in text:
        yield from patterns.url_spans(text)
    if E.CRYPTO in active:
        yield from patterns.wallet_spans(text)
    if E.SWIFT_BIC in named:
        yield from patterns.bic_spans(text)
    for entity in (E.USERNAME, E.SECURITY_ANSWER):
        if entity in active and entity in named:
            yield from patterns.answer_spans(text, entity, False, language)


def _people(u: CatalogueInput, active: frozenset[EntityId], found: list[Span]) -> Iterator[Span]:
    own: list[Span] = []
    if E.NAME in active:
        own += names.cue_spans(u.text, u.language)
        own += names.remembered_spans(u.text, set(u.remembered_names), u.language)
    wanted = active & {E.NAME, E.LOCATION}
    # The model is English: on Spanish it takes "Qué" for a name and misses "María". Spanish names come from
    # cues, answers and the call's memory.
    if wanted and u.language == "en" and ner.installed_model() is not None:
        own += ner.ner_spans(u.text, wanted)
    yield from own
    # Asked for and not found otherwise, the answer (but filler) is the entity: "garcia", "12 Oak, Dover".
    seen = {s.entity for s in [*own, *found]}
    for entity in (ANSWERED_WHOLE | {E.ADDRESS}) & u.expected & active:
        if entity not in seen:
            yield from patterns.answer_spans(u.text, entity, True, u.language)
