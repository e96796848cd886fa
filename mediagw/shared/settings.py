"""Settings changed at run time through the configuration API (custom vocabulary, active redaction entities): the
store holds them for every node, and in a cluster each node reads them again every `REFRESH_S`, so a change made
on one node reaches the others within that time (in one process the API changes the node's own copy at once)."""

from __future__ import annotations

import asyncio
import logging
import time

from mediagw.api import vocabularies
from mediagw.outputs.store_schema import ENTITY_SETTINGS
from mediagw.services import Services
from mediagw.throttle import ThrottledLog
from redaction import ner
from redaction.entities import NEEDS_NER
from redaction.settings import EntitySettings

log = logging.getLogger(__name__)
REFRESH_S = 2.0


async def follow_store(services: Services) -> None:
    """Forever: the store's vocabulary and entity settings into this node's copies (a store outage: logged, the
    copies kept, read again at the next turn)."""
    warn = ThrottledLog(log, logging.WARNING, 60.0)
    while True:
        await asyncio.sleep(REFRESH_S)
        try:
            await vocabularies.load(services)
            await _entities(services)
        except ner.NerUnavailable as error:
            warn.log(
                time.monotonic(), "entity settings from another node cannot run here, kept as they were: %s", error
            )
        except Exception as error:  # the store lost for a while: what this node has goes on
            warn.log(time.monotonic(), "settings not refreshed from the store (%s)", type(error).__name__)


async def _entities(services: Services) -> None:
    assert services.store is not None
    kept = await services.store.setting(ENTITY_SETTINGS)
    current = services.entity_settings
    if kept is None or kept == current.kept():
        return
    candidate = EntitySettings(services.config.redaction.allow_pci_disable)
    candidate.load(kept)
    if added := (candidate.active - current.active) & NEEDS_NER:
        ner.require(added)  # NerUnavailable: this node lacks the model the other node turned on
        await asyncio.to_thread(ner.pipeline)  # loaded off the loop, before any utterance needs it
    current.load(kept)
    log.info("redaction entities changed on another node: %s", ", ".join(sorted(e.value for e in current.active)))
