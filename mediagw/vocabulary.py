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
    """Additive for the life of a session, as the reference says."""

    def __init__(self) -> None:
        self._phrases: list[VocabularyPhrase] = []
        self._rewrites: list[tuple[re.Pattern[str], str]] = []

    def __len__(self) -> int:
        return len(self._phrases)

    def add(self, phrases: list[VocabularyPhrase]) -> None:
        self._phrases.extend(phrases)
        for entry in phrases:
            for said in entry.sounds_like:
                words = r"\s+".join(re.escape(w) for w in said.split())
                self._rewrites.append((re.compile(rf"\b{words}\b", re.IGNORECASE), entry.phrase))

    def hotwords(self) -> str:
        """The phrases as the decoder's previous-text prompt; a snapshot is taken per utterance."""
        return ", ".join(p.phrase for p in self._phrases)

    def rewrite(self, text: str) -> str:
        for pattern, phrase in self._rewrites:
            text = pattern.sub(phrase, text)
        return text
