"""Settings changed at run time, kept in the store so that every node (and a restart) reads the same."""

from __future__ import annotations

import logging
from pathlib import Path

from mediagw.outputs.store import TranscriptStore
from mediagw.outputs.store_schema import ENTITY_SETTINGS
from redaction.settings import EntitySettings

log = logging.getLogger(__name__)
LEGACY_FILE = "redaction-entities.json"  # where versions before the store kept them


async def load_entity_settings(store: TranscriptStore, entities: EntitySettings, data_dir: Path) -> None:
    """The active redaction entities as kept; a legacy JSON file in data_dir is moved into the store once."""
    kept = await store.setting(ENTITY_SETTINGS)
    legacy = data_dir / LEGACY_FILE
    if kept is None and legacy.is_file():
        entities.load(legacy.read_text())
        await store.put_setting(ENTITY_SETTINGS, entities.kept())
        legacy.rename(legacy.with_name(LEGACY_FILE + ".imported"))
        log.info("redaction entity settings moved from %s into the store", legacy)
        return
    entities.load(kept)


async def keep_entity_settings(store: TranscriptStore | None, entities: EntitySettings) -> None:
    if store is not None:
        await store.put_setting(ENTITY_SETTINGS, entities.kept())
