"""The redaction entities of the reference: ids, names, descriptions, defaults, and which are locked on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EntityId(StrEnum):
    CREDIT_CARD_NUMBER = "CREDIT_CARD_NUMBER"
    CVV = "CVV"
    PASSWORD = "PASSWORD"
    PIN = "PIN"
    SSN = "SSN"
    EMAIL = "EMAIL"
    PHONE_NUMBER = "PHONE_NUMBER"
    DOB = "DOB"
    PROFANITY = "PROFANITY"


@dataclass(frozen=True)
class Entity:
    id: EntityId
    description: str
    active_by_default: bool
    pci: bool = False  # PCI entities stay on unless an administrator setting allows turning them off

    @property
    def name(self) -> str:
        return self.id.value


ENTITIES: dict[EntityId, Entity] = {
    e.id: e
    for e in (
        Entity(EntityId.CREDIT_CARD_NUMBER, "Redacts credit card data", True, pci=True),
        Entity(EntityId.CVV, "Redacts 3- or 4-digit card verification codes and/or equivalents", True, pci=True),
        Entity(EntityId.PASSWORD, "It redacts passwords", True),
        Entity(EntityId.PIN, "Redacts the pin", True),
        Entity(EntityId.SSN, "It redacts all the digits in next few sentences containing ssn keyword", True),
        Entity(EntityId.EMAIL, "It redacts any well-formed email address (abc@asapp.com)", False),
        Entity(
            EntityId.PHONE_NUMBER,
            "Redacts sequences of digits that could be phone numbers based on phone number formats.",
            False,
        ),
        Entity(EntityId.DOB, "It redacts Data of birth content of data", False),
        Entity(EntityId.PROFANITY, "It redacts words and phrases present in a list of known bad words", False),
    )
}


def default_active() -> frozenset[EntityId]:
    return frozenset(e.id for e in ENTITIES.values() if e.active_by_default)
