"""The entity catalogue beyond the reference nine: its shape, each entity on its own examples, conversation
context and name memory, the named-entity model's extra, `mediagw redact`, and bounded time on hostile text."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiohttp import web

from mediagw.app import build_app
from mediagw.config import ConfigError
from mediagw.outputs.store import SqliteStore
from mediagw.outputs.store_schema import ENTITY_SETTINGS
from redaction import ner
from redaction.context import ConversationContext
from redaction.entities import ENTITIES, REFERENCE, EntityId, UnknownEntity, parse_entities
from redaction.lines import Line, redact_lines
from redaction.redactor import RedactionOptions, Redactor
from tests.gateway import make_config

E = EntityId
ALL = frozenset(EntityId)
REDACTOR = Redactor(RedactionOptions())
HAS_MODEL = ner.installed_model() is not None
needs_model = pytest.mark.skipif(not HAS_MODEL, reason="the `ner` extra is not installed")


def test_catalogue_has_fifty_described_entities_and_keeps_the_reference_nine() -> None:
    assert len(ENTITIES) >= 50
    assert [e.value for e in EntityId][:9] == [
        "CREDIT_CARD_NUMBER", "CVV", "PASSWORD", "PIN", "SSN", "EMAIL", "PHONE_NUMBER", "DOB", "PROFANITY",
    ]  # fmt: skip
    assert {e.id for e in ENTITIES.values() if e.active_by_default} == {E.CREDIT_CARD_NUMBER, E.CVV, E.PASSWORD,
                                                                        E.PIN, E.SSN}  # fmt: skip
    for entity in ENTITIES.values():
        assert entity.name == entity.id.value and entity.description and entity.label, entity.id
        if entity.id not in REFERENCE:
            assert entity.examples and not entity.active_by_default, entity.id
    categories = {e.category.value for e in ENTITIES.values()}
    assert {"PCI", "PII", "PHI", "financial", "government id", "network"} <= categories
    assert ENTITIES[E.BANK_ACCOUNT_NUMBER].keep_last == 4 and ENTITIES[E.IBAN].keep_last == 0


@pytest.mark.parametrize("entity", [e for e in ENTITIES.values() if e.examples], ids=lambda e: e.id.value)
def test_each_entity_masks_its_examples_with_every_entity_on(entity: object) -> None:
    from redaction.entities import Entity

    assert isinstance(entity, Entity)
    if entity.needs_ner and not HAS_MODEL:
        pytest.skip("the `ner` extra is not installed")
    for example in entity.examples:
        result = REDACTOR.redact(example, "customer", ALL)
        assert result.spans and result.spans[0].entity == entity.id, (example, result)
        assert len(result.text) == len(example)


@pytest.mark.parametrize(
    "text",
    [
        "I want to cancel my subscription please.",
        "I ordered 3 boxes last week and only got two.",
        "Can you call me back after 5 pm?",
        "I've been a customer for 12 years.",
        "The technician never showed up yesterday.",
    ],
)
def test_lines_without_entities_stay_as_they_are(text: str) -> None:
    assert REDACTOR.redact(text, "customer", ALL).text == text


def test_spoken_ids_as_whisper_writes_them() -> None:
    cases = {
        "my vin is one h g c m 82633 a 004352": E.VIN,
        "the routing number is 0 2 1 0 0 0 0 2 1": E.BANK_ROUTING_NUMBER,
        "my driver's license is D 1 2 3 4 5 6 7": E.DRIVER_LICENSE,
        "it's GB82 WEST 1234 5698 7654 32": E.IBAN,
        "my curp is badd 1103 13hc mlns 06": E.MX_CURP,
        "I live at 7040 cunningham court new gloriaborough or 67651.": E.ADDRESS,
    }
    for text, entity in cases.items():
        result = REDACTOR.redact(text, "customer", ALL)
        assert [s.entity for s in result.spans] == [entity], (text, result)
        assert not any(c.isdigit() for c in result.text[result.spans[0].start :]), result.text


def conversation(turns: list[tuple[str, str]], active: frozenset[EntityId] = ALL) -> list[str]:
    return [r.text for r in redact_lines((Line(text, role) for role, text in turns), REDACTOR, active)]


def test_the_answer_to_a_question_is_masked_where_no_format_finds_it() -> None:
    out = conversation(
        [
            ("agent", "Can I have your full name please?"),
            ("customer", "maria lopez"),
            ("agent", "And what's the address on the account?"),
            ("customer", "twelve oak, dover"),
            ("agent", "What is your mother's maiden name?"),
            ("customer", "it's garcia"),
            ("agent", "Can I get your policy number?"),
            ("customer", "sure, AB 1234567"),
            ("agent", "Thank you, anything else?"),
            ("customer", "no that's all, thanks"),
        ]
    )
    assert out[1] == "##### #####"
    assert "oak" not in out[3] and "dover" not in out[3]
    assert out[5] == "it's ######"
    assert out[7] == "sure, ## ###4567"
    assert out[9] == "no that's all, thanks"  # closed: an answer ends the question


def test_a_name_given_once_is_masked_wherever_it_comes_back_in_either_party() -> None:
    out = conversation(
        [
            ("customer", "Hi, my name is maria lopez and my internet is down."),
            ("agent", "I'm sorry to hear that, Maria. Let me check."),
            ("customer", "Lopez, like the singer."),
            ("agent", "Okay Ms. lopez, it's fixed."),
        ],
        frozenset({E.NAME}),
    )
    assert out[0] == "Hi, my name is ##### ##### and my internet is down."
    assert out[1] == "I'm sorry to hear that, #####. Let me check."
    assert out[2].startswith("#####,")
    assert "lopez" not in out[3].lower()


@needs_model
def test_names_and_places_from_the_model_where_no_cue_is_said() -> None:
    result = REDACTOR.redact("yes Patricia Johnson moved to Denver last year", "customer", ALL)
    assert result.text == "yes ######## ####### moved to ###### last year"
    assert {s.entity for s in result.spans} == {E.NAME, E.LOCATION}


def test_unknown_entity_ids_are_refused_with_the_known_ones() -> None:
    assert parse_entities("all") == ALL
    assert parse_entities("name, iban") == {E.NAME, E.IBAN}
    with pytest.raises(UnknownEntity, match="'FOO'.*known entities: CREDIT_CARD_NUMBER, CVV.*IBAN"):
        parse_entities("NAME,FOO")


def test_entities_needing_the_model_are_refused_at_start_up_where_it_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ner, "installed_model", lambda: None)
    with pytest.raises(ner.NerUnavailable, match=r"NAME need the named-entity model: install .*mediagw\[ner\]"):
        ner.require({E.NAME, E.IBAN})
    ner.require({E.IBAN, E.ADDRESS})  # pattern entities run without it
    config = make_config(tmp_path, asr={"enabled": False}, export={"daily": False})
    kept = json.dumps({"active": {"LOCATION": True}})
    asyncio.run(_keep_entities(tmp_path / "mediagw.sqlite3", kept))
    with pytest.raises(ConfigError, match="LOCATION need the named-entity model"):
        asyncio.run(_start(build_app(config)))
    # kept by a version before the store: a JSON file in data_dir, moved into the store at start-up
    (tmp_path / "mediagw.sqlite3").unlink()
    (tmp_path / "redaction-entities.json").write_text(kept)
    with pytest.raises(ConfigError, match="LOCATION need the named-entity model"):
        asyncio.run(_start(build_app(config)))
    assert not (tmp_path / "redaction-entities.json").exists()


async def _keep_entities(path: Path, kept: str) -> None:
    store = SqliteStore(path)
    await store.open()
    await store.put_setting(ENTITY_SETTINGS, kept)
    await store.close()


async def _start(app: web.Application) -> None:
    runner = web.AppRunner(app)
    try:
        await runner.setup()
    finally:
        await runner.cleanup()


def test_hostile_text_is_bounded_with_every_entity_on() -> None:
    for text in ("1" * 20000, "4 " * 10000, "a." * 10000, "Main Street " * 1600, "1 " * 990, "A1 " * 660):
        started = time.perf_counter()
        result = REDACTOR.redact(text, "customer", ALL, ConversationContext())
        assert time.perf_counter() - started < 0.5, text[:20]
        assert len(result.text) == len(text)
    assert set(REDACTOR.redact("1" * 20000, "customer", ALL).text) == {"#"}  # too long: masked whole


# `all` needs the `ner` extra (NAME, LOCATION): without it the command refuses, as start-up does
REDACT_ENTITIES = "all" if HAS_MODEL else "BANK_ROUTING_NUMBER,VIN,USERNAME"


def test_redact_command_prints_json_lines_with_offsets_into_the_input(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"data_dir: {tmp_path}\n")
    lines = "the routing number is 021000021\nmy VIN is 1HGCM82633A004352 ok\nmy username is jdoe\n"
    out = subprocess.run(
        [sys.executable, "-m", "mediagw.cli", "--config", str(config), "redact", "--entities", REDACT_ENTITIES],
        input=lines, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["text"] for r in results] == [
        "the routing number is #########", "my VIN is ################# ok", "my username is ####",
    ]  # fmt: skip
    assert results[0]["spans"] == [{"entity": "BANK_ROUTING_NUMBER", "start": 22, "end": 31}]
    default = subprocess.run(
        [sys.executable, "-m", "mediagw.cli", "--config", str(config), "redact"],
        input=lines, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(default.stdout.splitlines()[2])["text"] == "my username is jdoe"  # not active by default
    bad = subprocess.run(
        [sys.executable, "-m", "mediagw.cli", "--config", str(config), "redact", "--entities", "NAME,NOPE"],
        input=lines, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2 and "'NOPE'" in bad.stderr and "MX_CURP" in bad.stderr


@pytest.mark.parametrize(
    "text",
    [
        "I live at 48 Oak Street, Springfield, Illinois, 62,704",  # Whisper's thousands comma in a ZIP
        "The zip code is 62,704, thanks.",
        "Springfield, IL 62,704",
    ],
)
def test_a_zip_written_with_a_thousands_comma_is_masked(text: str) -> None:
    masked = conversation([("customer", text)])[0]
    assert "62" not in masked and "704" not in masked, masked
