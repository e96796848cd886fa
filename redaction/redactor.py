"""Redaction: finds entities and custom-rule matches in an utterance and masks them, keeping the text's shape."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from redaction import detectors
from redaction.catalogue import CatalogueInput, catalogue_spans
from redaction.context import ConversationContext
from redaction.detectors import Span
from redaction.digit_runs import digit_run_spans
from redaction.entities import EntityId
from redaction.languages import base_language
from redaction.mentions import mentions
from redaction.rules import CompiledRule, RuleTimeout

log = logging.getLogger(__name__)
E = EntityId
TOO_LONG = "UTTERANCE_TOO_LONG"


@dataclass(frozen=True)
class RedactionOptions:
    mask: str = "#"
    rule_timeout_s: float = 0.05
    max_chars: int = 2000  # longer "utterances" (no ASR segment is) are masked whole: bounded time, fail closed


@dataclass(frozen=True)
class Redaction:
    text: str
    spans: tuple[Span, ...] = field(default=())

    @property
    def entities(self) -> list[str]:
        return [s.entity for s in self.spans]


def apply_mask(text: str, spans: Sequence[Span], mask: str) -> str:
    """Letters and digits inside spans become `mask`; separators stay, and each span's last digits may too."""
    chars = list(text)
    for span in spans:
        keep_from = span.end
        if span.keep_last:
            seen = 0
            for index in range(span.end - 1, span.start - 1, -1):
                if chars[index].isdigit() or chars[index] == mask:
                    seen += 1
                    if seen == span.keep_last:
                        keep_from = index
                        break
        for index in range(span.start, keep_from):
            if text[index].isalnum():
                chars[index] = mask
    return "".join(chars)


@dataclass(frozen=True)
class _Utterance:
    text: str
    role: str
    active: frozenset[EntityId]
    context: ConversationContext
    now: float
    assume: frozenset[EntityId]  # secrets to take as asked for, whatever the context says (fail safe)
    has_digits: bool
    language: str


class Redactor:
    """Stateless apart from its rules; the conversation's memory is the ConversationContext passed in."""

    def __init__(self, options: RedactionOptions, rules: Sequence[CompiledRule] = ()) -> None:
        self._options = options
        self._rules = list(rules)

    def redact(
        self,
        text: str,
        role: str,
        active: frozenset[EntityId],
        context: ConversationContext | None = None,
        now: float = 0.0,
        assume: frozenset[EntityId] = frozenset(),
        language: str = "en",
    ) -> Redaction:
        """Mask `text`. `assume`: secrets to treat as asked for, when the question may not be known yet.
        `language`: the ISO 639-1 code whose keywords and number words are read ('en', 'es'; others read as 'en')."""
        context = context or ConversationContext()
        language = base_language(language)
        utterance = _Utterance(text, role, active, context, now, assume, any(c.isdigit() for c in text), language)
        try:
            spans = self._find(utterance) if len(text) <= self._options.max_chars else [Span(0, len(text), TOO_LONG)]
        except RuleTimeout as error:
            log.warning("%s; the utterance is masked whole", error)  # the rule name, never the text
            spans = [Span(0, len(text), error.rule)]
        context.record(role, text, now, spans, active, language)
        if not spans:
            return Redaction(text)
        return Redaction(apply_mask(text, spans, self._options.mask), tuple(sorted(spans, key=lambda s: s.start)))

    def _find(self, u: _Utterance) -> list[Span]:
        text, active = u.text, u.active
        catalogued = catalogue_spans(
            CatalogueInput(text, active, u.context.expected(u.role, u.now), frozenset(u.context.names), u.language)
        )  # a catalogue id masks the whole of a number inside it (an ITIN is no SSN with its last four shown)
        spans = catalogued + [n for n in self._numbers(u) if not _inside_any(n, catalogued)]
        if E.EMAIL in active and "@" in text:
            spans += detectors.email_spans(text)
        dob = E.DOB in active and u.has_digits
        if dob and (mentions(text, {E.DOB}, u.language) or u.context.expects(u.role, E.DOB, u.now)):
            spans += detectors.dob_spans(text, u.language)
        if E.PASSWORD in active:
            spans += detectors.password_spans(text, u.context.expects(u.role, E.PASSWORD, u.now), u.language)
        if E.PROFANITY in active:
            spans += detectors.profanity_spans(text, u.language)
        for rule in self._rules:
            if not rule.keep:
                spans += rule.spans(text, self._options.rule_timeout_s)
        return _without_overlaps(spans)

    def _numbers(self, u: _Utterance) -> list[Span]:
        text, active = u.text, u.active
        card_on = E.CREDIT_CARD_NUMBER in active
        if not (u.has_digits or card_on or u.assume):
            return []
        numbers = u.context.number_context(u.role, text, u.now, active, u.assume, u.language)
        expected = numbers.expected_number(active)
        spans: list[Span] = []
        if u.has_digits:
            spans += detectors.number_spans(text, active, numbers, u.language)
            if E.PHONE_NUMBER in active:
                spans += detectors.phone_spans(text)
        if card_on or expected:  # fail safe: long runs, and any digit of an expected secret, unless a keep rule allows
            kept = [
                span for rule in self._rules if rule.keep for span in rule.spans(text, self._options.rule_timeout_s)
            ]
            runs = [
                run
                for run in digit_run_spans(
                    text,
                    numbers.previous_digits,
                    expected,
                    long_runs=card_on,
                    reading=numbers.card_in_progress,
                    language=u.language,
                )
                if not any(k.start <= run.start and run.end <= k.end for k in kept)
            ]
            spans = [_inside_runs(span, runs) for span in spans] + runs  # last: a named entity names the merge
        return spans


def _inside_any(span: Span, others: list[Span]) -> bool:
    return any(o.start <= span.start and span.end <= o.end for o in others)


def _inside_runs(span: Span, runs: list[Span]) -> Span:
    """A card found inside a run keeps no digits of its own: the run, which reads homophones and the whole
    of what was said, decides whether its end is a card's last four."""
    if span.entity != E.CREDIT_CARD_NUMBER or not span.keep_last:
        return span
    if any(run.start <= span.start and span.end <= run.end for run in runs):
        return Span(span.start, span.end, span.entity, 0)
    return span


def _without_overlaps(spans: list[Span]) -> list[Span]:
    """Overlapping spans merge into the widest; the first entity found names the merged span.

    Digits stay visible at the merged end only as the spans that end there allow: a card's last four are
    not kept when a wider run (the card and its CVV in one breath) goes on past them.
    """
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            if span.end > last.end:
                merged[-1] = Span(last.start, span.end, last.entity, span.keep_last)
            elif span.end == last.end:
                merged[-1] = Span(last.start, last.end, last.entity, max(last.keep_last, span.keep_last))
            continue
        merged.append(span)
    return merged
