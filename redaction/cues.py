"""Words that name the catalogue's entities ("routing number", "passport", "maiden name"): in the caller's own
utterance they make a weak format count (Presidio's context words); in the agent's question they make the
answer expected. The reference nine keep theirs in mentions.py and detectors.py; the Spanish cues are in
catalogue_es.py."""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import cache

from redaction import catalogue_es
from redaction.entities import EntityId

E = EntityId

CUES: dict[EntityId, str] = {
    E.NAME: r"(?<!maiden )(?:first|last|full|middle|sur|your|my|his|her|the)\s*name|name'?s|spell(?:ed|ing)?|who am i "
    r"speaking|speaking with|who(?:'s| is) calling|account holder",
    E.ADDRESS: r"address|street|where do you live|where you live|mailing|shipping|billing|live at|moved to",
    E.ZIP: r"zip|postal code|post code",
    E.AGE: r"years? old|\bage\b|how old",
    E.DATE: r"\bdate\b|\bwhen\b",
    E.SECURITY_ANSWER: r"maiden name|first pet|pet'?s name|security question|secret question|secret answer|"
    r"favou?rite (?:teacher|food|color|colour|movie|book|sports? team)|first car|grew up on|first school|"
    r"elementary school|high school|childhood|best friend|city (?:were you|was your)|where were you born|"
    r"first (?:job|concert|boss)",
    E.USERNAME: r"user ?name|user ?id|login|log in|handle|screen name|sign in",
    E.CARD_EXPIRY: r"expir\w*|\bexp\b|valid (?:thru|through)|good thru",
    E.BANK_ACCOUNT_NUMBER: r"bank|checking|savings|deposit|direct debit|ach",
    E.BANK_ROUTING_NUMBER: r"routing|\baba\b|transit number|bank number",
    E.IBAN: r"\biban\b|international bank",
    E.SWIFT_BIC: r"swift|\bbic\b|sort code",
    E.ACCOUNT_NUMBER: r"account (?:number|no|id)|account's|policy|member(?:ship)? (?:number|id)|"
    r"customer (?:number|id)|acct|reference number",
    E.CRYPTO: r"wallet|bitcoin|\bbtc\b|ethereum|\beth\b|crypto",
    E.DRIVER_LICENSE: r"driver'?s'? licen[cs]e|driving licen[cs]e|licen[cs]e number|\bdl\b|\bd l\b|\blicen[cs]e\b",
    E.PASSPORT_NUMBER: r"passport",
    E.ITIN: r"\bitin\b|\bi t i n\b|taxpayer id|individual taxpayer|tax ?payer",
    E.EIN: r"\bf?ein\b|employer id|employer identification|federal tax|tax id",
    E.MEDICARE_MBI: r"medicare|\bmbi\b|beneficiary",
    E.NPI: r"\bnpi\b|national provider|provider (?:number|id)",
    E.DEA_NUMBER: r"\bdea\b|d e a",
    E.VIN: r"\bvin\b|vehicle identification|v i n",
    E.LICENSE_PLATE: r"plate|\btag\b|registration",
    E.MILITARY_ID: r"\bdod\b|d o d|military id|edipi|\bcac\b",
    E.MX_CURP: r"curp|c u r p",
    E.MX_RFC: r"\brfc\b|r f c|registro federal",
    E.ES_DNI: r"\bdni\b|d n i|documento",
    E.ES_NIE: r"\bnie\b|n i e|extranjero",
    E.UK_NINO: r"national insurance|\bnino\b|\bni number",
    E.UK_NHS: r"\bnhs\b|n h s",
    E.CA_SIN: r"\bsin\b|social insurance",
    E.IN_PAN: r"\bpan\b|permanent account",
    E.IN_AADHAAR: r"aadh?aar|\buid\b",
    E.AU_TFN: r"\btfn\b|tax file",
    E.AU_ABN: r"\babn\b|business number",
    E.IT_FISCAL_CODE: r"codice fiscale|fiscal code|tax code",
    E.MEDICAL_RECORD_NUMBER: r"\bmrn\b|m r n|medical record|patient (?:id|number)|chart number|record number",
    E.HEALTH_PLAN_ID: r"member id|member number|insurance (?:id|number|card)|subscriber|group number|health plan|"
    r"plan id|policy id",
    E.IP_ADDRESS: r"\bip\b|i p address",
    E.MAC_ADDRESS: r"\bmac\b|hardware address",
    E.URL: r"website|web site|\burl\b|link|page",
}


@cache
def _pattern(entity: EntityId) -> re.Pattern[str]:
    return re.compile(CUES[entity], re.IGNORECASE)


def cued(text: str, entities: Collection[EntityId], language: str = "en") -> set[EntityId]:
    """The entities among `entities` that `text` names, in the words of `language` ('en' or 'es')."""
    if language == "es":
        text = catalogue_es.folded(text)
        return {e for e in entities if e in catalogue_es.CUES and catalogue_es.cue_pattern(e).search(text)}
    return {e for e in entities if e in CUES and _pattern(e).search(text)}


def cue_ends(text: str, entity: EntityId, language: str = "en") -> list[int]:
    """Where each mention of `entity` ends: the value is looked for after it."""
    if language == "es":
        if entity not in catalogue_es.CUES:
            return []
        return [m.end() for m in catalogue_es.cue_pattern(entity).finditer(catalogue_es.folded(text))]
    return [m.end() for m in _pattern(entity).finditer(text)] if entity in CUES else []
