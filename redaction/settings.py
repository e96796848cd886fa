"""Which entities are active, changed at run time through the configuration API and kept across restarts."""

from __future__ import annotations

import json

from redaction.entities import ENTITIES, EntityId, default_active


class EntityLocked(PermissionError):
    """A PCI entity cannot be turned off without the administrator setting."""


class EntitySettings:
    """Active entities, held in memory and kept by the caller (mediagw keeps them in its store): `load` what was
    kept, `kept` what to keep after a change."""

    def __init__(self, allow_pci_disable: bool = False) -> None:
        self._allow_pci_disable = allow_pci_disable
        self._active = self._with_pci(default_active())

    @property
    def active(self) -> frozenset[EntityId]:
        return self._active

    def set_active(self, entity: EntityId, active: bool) -> None:
        if not active and ENTITIES[entity].pci and not self._allow_pci_disable:
            raise EntityLocked(f"{entity.value} is a PCI entity and cannot be turned off on this gateway")
        self._active = self._active | {entity} if active else self._active - {entity}

    def load(self, kept: str | None) -> None:
        """What `kept` returned before (None: nothing kept, the defaults)."""
        if kept is None:
            return
        stored = json.loads(kept).get("active", {})
        active = {EntityId(k) for k, on in stored.items() if on and k in EntityId.__members__}
        known = {EntityId(k) for k in stored if k in EntityId.__members__}
        unknown_defaults = {e for e in default_active() if e not in known}  # entities added since it was kept
        self._active = self._with_pci(frozenset(active | unknown_defaults))

    def kept(self) -> str:
        return json.dumps({"active": {e.value: e in self._active for e in EntityId}})

    def _with_pci(self, active: frozenset[EntityId]) -> frozenset[EntityId]:
        return active if self._allow_pci_disable else active | {e.id for e in ENTITIES.values() if e.pci}
