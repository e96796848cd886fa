"""A session's custom vocabulary: hotwords that bias the decoder, and sounds-like forms rewritten to the phrase."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class VocabularyPhrase:
    phrase: str
    sounds_like: tuple[str, ...] = ()
    category: str | None = None


class Vocabulary:
    """Additive for the life of a session, as the reference says; `base` is the gateway-wide custom vocabulary."""

    def __init__(self, base: Vocabulary | None = None) -> None:
        self._base = base
        self._phrases: list[VocabularyPhrase] = []
        self._rewrites: list[tuple[re.Pattern[str], str]] = []

    def __len__(self) -> int:
        return len(self._phrases)

    def replace(self, phrases: list[VocabularyPhrase]) -> None:
        """The whole list at once (the configuration API changed it)."""
        self._phrases, self._rewrites = [], []
        self.add(phrases)

    def add(self, phrases: list[VocabularyPhrase]) -> None:
        self._phrases.extend(phrases)
        for entry in phrases:
            for said in entry.sounds_like:
                words = r"\s+".join(re.escape(w) for w in said.split())
                self._rewrites.append((re.compile(rf"\b{words}\b", re.IGNORECASE), entry.phrase))

    def hotwords(self) -> str:
        """The phrases as the decoder's previous-text prompt; a snapshot is taken per utterance."""
        own = ", ".join(p.phrase for p in self._phrases)
        base = self._base.hotwords() if self._base is not None else ""
        return ", ".join(part for part in (base, own) if part)

    def rewrite(self, text: str) -> str:
        if self._base is not None:
            text = self._base.rewrite(text)
        for pattern, phrase in self._rewrites:
            text = pattern.sub(phrase, text)
        return text
