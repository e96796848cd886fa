"""Custom redaction rules: an ordered list of named regular expressions, checked when configuration loads.

Patterns run on the `regex` module with a time limit, so a pattern prone to catastrophic backtracking cannot
stall the pipeline; when a rule runs out of time the whole utterance is masked rather than risk a leak.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import regex

from redaction.detectors import Span


@dataclass(frozen=True)
class RuleExample:
    text: str
    redacted: str  # what the rule alone must make of `text`


@dataclass(frozen=True)
class CustomRule:
    name: str
    pattern: str
    examples: tuple[RuleExample, ...] = ()
    ignore_case: bool = True
    # A keep rule masks nothing: what it matches is exempt from the fail-safe rule that masks any run of 8+
    # digits (an order number format, say). Card numbers, CVVs and PINs found otherwise are still masked.
    keep: bool = False


class RuleError(ValueError):
    """A custom rule cannot be used; the message names it."""


class RuleTimeout(Exception):
    """A rule took longer than its time limit on some text."""

    def __init__(self, rule: str) -> None:
        super().__init__(f"custom redaction rule {rule!r} timed out")
        self.rule = rule


@dataclass(frozen=True)
class CompiledRule:
    name: str
    pattern: regex.Pattern[str]
    keep: bool = False

    def spans(self, text: str, timeout_s: float) -> Iterator[Span]:
        try:
            for match in self.pattern.finditer(text, timeout=timeout_s):
                if match.end() > match.start():
                    yield Span(match.start(), match.end(), self.name)
        except TimeoutError as error:
            raise RuleTimeout(self.name) from error


def compile_rules(rules: Sequence[CustomRule], mask: str, timeout_s: float) -> list[CompiledRule]:
    """Compile and self-test every rule; the first bad one raises RuleError naming it."""
    from redaction.redactor import apply_mask

    compiled, seen = [], set()
    for rule in rules:
        if not rule.name or rule.name in seen:
            raise RuleError(f"custom redaction rule names must be unique and non-empty: {rule.name!r}")
        seen.add(rule.name)
        try:
            pattern = regex.compile(rule.pattern, regex.IGNORECASE if rule.ignore_case else 0)
        except regex.error as error:
            raise RuleError(f"custom redaction rule {rule.name!r}: invalid pattern: {error}") from error
        result = CompiledRule(rule.name, pattern, rule.keep)
        for example in rule.examples:
            try:
                found = list(result.spans(example.text, timeout_s))
            except RuleTimeout as error:
                raise RuleError(f"custom redaction rule {rule.name!r} timed out on its example") from error
            kept = example.text if found else "(no match)"  # a keep rule's example must match, and stays as it is
            got = kept if rule.keep else apply_mask(example.text, found, mask)
            if got != example.redacted:
                raise RuleError(
                    f"custom redaction rule {rule.name!r} fails its example: expected {example.redacted!r}, got {got!r}"
                )
        compiled.append(result)
    return compiled
