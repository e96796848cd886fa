"""The redaction entities: the reference's nine first (ids, descriptions and defaults as documented), then the
wider catalogue, each with a category, a default, a mask style and examples.

New entities are off by default: an upgrade never changes what a running gateway masks until an operator turns
them on through the configuration API.
"""

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
    # people and places
    NAME = "NAME"
    ADDRESS = "ADDRESS"
    ZIP = "ZIP"
    LOCATION = "LOCATION"
    AGE = "AGE"
    DATE = "DATE"
    SECURITY_ANSWER = "SECURITY_ANSWER"
    USERNAME = "USERNAME"
    # financial
    CARD_EXPIRY = "CARD_EXPIRY"
    BANK_ACCOUNT_NUMBER = "BANK_ACCOUNT_NUMBER"
    BANK_ROUTING_NUMBER = "BANK_ROUTING_NUMBER"
    IBAN = "IBAN"
    SWIFT_BIC = "SWIFT_BIC"
    ACCOUNT_NUMBER = "ACCOUNT_NUMBER"
    CRYPTO = "CRYPTO"
    # government ids, US
    DRIVER_LICENSE = "DRIVER_LICENSE"
    PASSPORT_NUMBER = "PASSPORT_NUMBER"
    ITIN = "ITIN"
    EIN = "EIN"
    MEDICARE_MBI = "MEDICARE_MBI"
    NPI = "NPI"
    DEA_NUMBER = "DEA_NUMBER"
    VIN = "VIN"
    LICENSE_PLATE = "LICENSE_PLATE"
    MILITARY_ID = "MILITARY_ID"
    # government ids of es-US callers and elsewhere
    MX_CURP = "MX_CURP"
    MX_RFC = "MX_RFC"
    ES_DNI = "ES_DNI"
    ES_NIE = "ES_NIE"
    UK_NINO = "UK_NINO"
    UK_NHS = "UK_NHS"
    CA_SIN = "CA_SIN"
    IN_PAN = "IN_PAN"
    IN_AADHAAR = "IN_AADHAAR"
    AU_TFN = "AU_TFN"
    AU_ABN = "AU_ABN"
    IT_FISCAL_CODE = "IT_FISCAL_CODE"
    # health
    MEDICAL_RECORD_NUMBER = "MEDICAL_RECORD_NUMBER"
    HEALTH_PLAN_ID = "HEALTH_PLAN_ID"
    # network
    IP_ADDRESS = "IP_ADDRESS"
    MAC_ADDRESS = "MAC_ADDRESS"
    URL = "URL"


class Category(StrEnum):
    PCI = "PCI"
    PII = "PII"
    PHI = "PHI"
    FINANCIAL = "financial"
    GOVERNMENT_ID = "government id"
    NETWORK = "network"
    CONTENT = "content"


class MaskStyle(StrEnum):
    ALL = "all"
    LAST_FOUR = "last4"  # the last four digits stay visible


@dataclass(frozen=True)
class Entity:
    id: EntityId
    description: str
    active_by_default: bool
    pci: bool = False  # PCI entities stay on unless an administrator setting allows turning them off
    category: Category = Category.PII
    mask_style: MaskStyle = MaskStyle.ALL
    examples: tuple[str, ...] = ()
    label: str = ""  # a human name; `name` stays the id, as the reference's API shows it
    needs_ner: bool = False  # found by the named-entity model (the `ner` extra)

    @property
    def name(self) -> str:
        return self.id.value

    @property
    def keep_last(self) -> int:
        return 4 if self.mask_style is MaskStyle.LAST_FOUR else 0


E, C, M = EntityId, Category, MaskStyle


def _new(entity: EntityId, category: Category, label: str, description: str, *examples: str, **kw: object) -> Entity:
    return Entity(entity, description, False, category=category, label=label, examples=examples, **kw)  # type: ignore[arg-type]


REFERENCE_ENTITIES = (
    Entity(
        E.CREDIT_CARD_NUMBER, "Redacts credit card data", True, pci=True, category=C.PCI, mask_style=M.LAST_FOUR,
        label="Payment card number", examples=("my card is 4111 1111 1111 1111",),
    ),
    Entity(
        E.CVV, "Redacts 3- or 4-digit card verification codes and/or equivalents", True, pci=True, category=C.PCI,
        label="Card verification code", examples=("the security code is 123",),
    ),
    Entity(E.PASSWORD, "It redacts passwords", True, label="Password", examples=("my password is tulip 77",)),
    Entity(E.PIN, "Redacts the pin", True, category=C.PCI, label="PIN", examples=("my pin is 4821",)),
    Entity(
        E.SSN, "It redacts all the digits in next few sentences containing ssn keyword", True,
        category=C.GOVERNMENT_ID, mask_style=M.LAST_FOUR, label="US Social Security number",
        examples=("my social is 123-45-6789",),
    ),
    Entity(
        E.EMAIL, "It redacts any well-formed email address (abc@asapp.com)", False, label="E-mail address",
        examples=("it's maria.lopez@example.com",),
    ),
    Entity(
        E.PHONE_NUMBER, "Redacts sequences of digits that could be phone numbers based on phone number formats.",
        False, label="Phone number", examples=("call me at 312-555-0188",),
    ),
    Entity(E.DOB, "It redacts Data of birth content of data", False, label="Date of birth",
           examples=("my date of birth is March 4th 1980",)),
    Entity(E.PROFANITY, "It redacts words and phrases present in a list of known bad words", False,
           category=C.CONTENT, label="Profanity"),
)  # fmt: skip

CATALOGUE = (
    _new(E.NAME, C.PII, "Person name", "Names of people, found by the named-entity model, by cues such as 'my "
         "name is', and wherever a name given once comes back in the call", "this is Maria Lopez", needs_ner=True),
    _new(E.ADDRESS, C.PII, "Street address", "A street address with its apartment, city, state and ZIP code, "
         "as spoken", "123 Main Street apartment 4B Springfield Illinois 62704"),
    _new(E.ZIP, C.PII, "ZIP code", "US ZIP and ZIP+4 codes where a ZIP is named or follows a state",
         "the zip is 62704"),
    _new(E.LOCATION, C.PII, "Location", "Cities, states, countries and other places the named-entity model finds",
         "I live in Chicago", needs_ner=True),
    _new(E.AGE, C.PII, "Age", "A person's age in years", "I'm 45 years old"),
    _new(E.DATE, C.PII, "Date", "Any date (unlike DOB, which needs a mention of birth)", "on June 5th 2024"),
    _new(E.SECURITY_ANSWER, C.PII, "Security answer", "The answer to a security question the agent asked "
         "(mother's maiden name, first pet, first school)", "my mother's maiden name is Garcia"),
    _new(E.USERNAME, C.NETWORK, "Username", "A user name or login given after 'username' or 'user id'",
         "my username is jdoe42"),
    _new(E.CARD_EXPIRY, C.PCI, "Card expiry date", "A payment card's expiration date", "it expires 08/27"),
    _new(E.BANK_ACCOUNT_NUMBER, C.FINANCIAL, "Bank account number", "A checking or savings account number "
         "(4 to 17 digits) near words such as 'bank', 'checking', 'savings'", "my checking account is 000123456789",
         mask_style=M.LAST_FOUR),
    _new(E.BANK_ROUTING_NUMBER, C.FINANCIAL, "Bank routing number", "A US ABA routing transit number (9 digits, "
         "checksum)", "the routing number is 021000021"),
    _new(E.IBAN, C.FINANCIAL, "IBAN", "An international bank account number (mod-97 checksum)",
         "GB82 WEST 1234 5698 7654 32"),
    _new(E.SWIFT_BIC, C.FINANCIAL, "SWIFT/BIC code", "A bank's SWIFT/BIC code near 'swift' or 'bic'",
         "the swift code is DEUTDEFF"),
    _new(E.ACCOUNT_NUMBER, C.FINANCIAL, "Account number", "A customer, member or policy number the caller gives "
         "when it is named or asked for", "my policy number is AB 1234567", mask_style=M.LAST_FOUR),
    _new(E.CRYPTO, C.FINANCIAL, "Crypto wallet", "A Bitcoin (base58check or bech32) or Ethereum wallet address",
         "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"),
    _new(E.DRIVER_LICENSE, C.GOVERNMENT_ID, "Driver's license", "A US driver's license number in a state format, "
         "near 'license'", "my driver's license is D1234567"),
    _new(E.PASSPORT_NUMBER, C.GOVERNMENT_ID, "Passport number", "A passport number near 'passport'",
         "passport number 912803456"),
    _new(E.ITIN, C.GOVERNMENT_ID, "US ITIN", "A US individual taxpayer identification number", "912-70-1234"),
    _new(E.EIN, C.GOVERNMENT_ID, "US EIN", "A US employer identification number", "EIN 12-3456789"),
    _new(E.MEDICARE_MBI, C.GOVERNMENT_ID, "Medicare MBI", "A US Medicare beneficiary identifier",
         "1EG4-TE5-MK73"),
    _new(E.NPI, C.PHI, "NPI", "A US national provider identifier (Luhn with prefix 80840)", "NPI 1234567893"),
    _new(E.DEA_NUMBER, C.PHI, "DEA number", "A US DEA registration number (checksum)", "DEA number AB1234563"),
    _new(E.VIN, C.GOVERNMENT_ID, "Vehicle identification number", "A 17-character VIN (check digit)",
         "1HGCM82633A004352"),
    _new(E.LICENSE_PLATE, C.GOVERNMENT_ID, "License plate", "A vehicle plate near 'plate' or 'tag'",
         "my plate is 7ABC123"),
    _new(E.MILITARY_ID, C.GOVERNMENT_ID, "US DoD ID", "A 10-digit DoD ID near 'DoD' or 'military id'",
         "my DoD ID is 1234567890"),
    _new(E.MX_CURP, C.GOVERNMENT_ID, "Mexican CURP", "Clave Única de Registro de Población (check digit)",
         "mi CURP es BADD110313HCMLNS06"),
    _new(E.MX_RFC, C.GOVERNMENT_ID, "Mexican RFC", "Registro Federal de Contribuyentes (with its date)",
         "GODE561231GR8"),
    _new(E.ES_DNI, C.GOVERNMENT_ID, "Spanish DNI", "Documento Nacional de Identidad (check letter)", "54362315K"),
    _new(E.ES_NIE, C.GOVERNMENT_ID, "Spanish NIE", "Número de Identidad de Extranjero (check letter)", "X2482300W"),
    _new(E.UK_NINO, C.GOVERNMENT_ID, "UK National Insurance number", "A UK NINO in its letter-digit format",
         "AB 12 34 56 C"),
    _new(E.UK_NHS, C.PHI, "UK NHS number", "A 10-digit NHS number (mod-11 check digit)",
         "my NHS number is 943 476 5919"),
    _new(E.CA_SIN, C.GOVERNMENT_ID, "Canadian SIN", "A Canadian social insurance number (Luhn) near 'SIN' or "
         "'social insurance'", "my SIN is 130 547 425"),
    _new(E.IN_PAN, C.GOVERNMENT_ID, "Indian PAN", "An Indian permanent account number", "ABCPD1234E"),
    _new(E.IN_AADHAAR, C.GOVERNMENT_ID, "Aadhaar", "An Indian Aadhaar number (Verhoeff)",
         "my Aadhaar is 2345 6789 0124"),
    _new(E.AU_TFN, C.GOVERNMENT_ID, "Australian TFN", "An Australian tax file number (checksum) near 'tax file'",
         "my tax file number is 123 456 782"),
    _new(E.AU_ABN, C.GOVERNMENT_ID, "Australian ABN", "An Australian business number (checksum)",
         "ABN 51 824 753 556"),
    _new(E.IT_FISCAL_CODE, C.GOVERNMENT_ID, "Italian fiscal code", "Codice fiscale (check letter)",
         "RCCMNL83S18D969H"),
    _new(E.MEDICAL_RECORD_NUMBER, C.PHI, "Medical record number", "A medical record or patient number near 'MRN', "
         "'medical record' or 'patient id'", "MRN 00482913"),
    _new(E.HEALTH_PLAN_ID, C.PHI, "Health plan id", "A health insurance member, subscriber or group id near those "
         "words", "my member id is XJH 448812"),
    _new(E.IP_ADDRESS, C.NETWORK, "IP address", "An IPv4 or IPv6 address", "192.168.1.10"),
    _new(E.MAC_ADDRESS, C.NETWORK, "MAC address", "A network hardware address", "00:1A:2B:3C:4D:5E"),
    _new(E.URL, C.NETWORK, "URL", "A web address", "www.example.com/account"),
)  # fmt: skip

ENTITIES: dict[EntityId, Entity] = {e.id: e for e in (*REFERENCE_ENTITIES, *CATALOGUE)}
REFERENCE = frozenset(e.id for e in REFERENCE_ENTITIES)
NEEDS_NER = frozenset(e.id for e in ENTITIES.values() if e.needs_ner)


def default_active() -> frozenset[EntityId]:
    return frozenset(e.id for e in ENTITIES.values() if e.active_by_default)


class UnknownEntity(ValueError):
    """An entity id that is not in the catalogue; the message lists the known ones."""

    def __init__(self, unknown: str) -> None:
        super().__init__(f"unknown redaction entity {unknown[:64]!r}; known entities: {', '.join(EntityId)}")


def parse_entities(spec: str) -> frozenset[EntityId]:
    """'all', or ids separated by commas, as an operator writes them."""
    if spec.strip().lower() == "all":
        return frozenset(EntityId)
    ids = [part.strip().upper() for part in spec.split(",") if part.strip()]
    for unknown in (i for i in ids if i not in EntityId.__members__):
        raise UnknownEntity(unknown)
    return frozenset(EntityId(i) for i in ids)
