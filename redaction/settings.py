"""Which entities are active, changed at run time through the configuration API and kept across restarts."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from redaction.entities import ENTITIES, EntityId, default_active


class EntityLocked(PermissionError):
    """A PCI entity cannot be turned off without the administrator setting."""


class EntitySettings:
    """Active entities, persisted as a small JSON file written atomically."""

    def __init__(self, path: Path, allow_pci_disable: bool = False) -> None:
        self._path = path
        self._allow_pci_disable = allow_pci_disable
        self._active = self._load()

    @property
    def active(self) -> frozenset[EntityId]:
        return self._active

    def set_active(self, entity: EntityId, active: bool) -> None:
        if not active and ENTITIES[entity].pci and not self._allow_pci_disable:
            raise EntityLocked(f"{entity.value} is a PCI entity and cannot be turned off on this gateway")
        self._active = self._active | {entity} if active else self._active - {entity}
        self._save()

    def _load(self) -> frozenset[EntityId]:
        try:
            stored = json.loads(self._path.read_text())
        except FileNotFoundError:
            return default_active()
        active = {EntityId(k) for k, on in stored.get("active", {}).items() if on and k in EntityId.__members__}
        known = {EntityId(k) for k in stored.get("active", {}) if k in EntityId.__members__}
        unknown_defaults = {e for e in default_active() if e not in known}  # entities added since the file was written
        result = frozenset(active | unknown_defaults)
        if not self._allow_pci_disable:
            result |= {e.id for e in ENTITIES.values() if e.pci}
        return result

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"active": {e.value: e in self._active for e in EntityId}}, indent=1)
        handle, temporary = tempfile.mkstemp(dir=self._path.parent, prefix=".entities")
        with os.fdopen(handle, "w") as out:
            out.write(body)
        os.replace(temporary, self._path)
