"""Entities, conversation context, custom rules and entity settings of the redaction stage."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from redaction.context import ConversationContext
from redaction.detectors import luhn_valid
from redaction.entities import ENTITIES, EntityId, default_active
from redaction.itn import to_written
from redaction.redactor import RedactionOptions, Redactor, apply_mask
from redaction.rules import CustomRule, RuleError, RuleExample, compile_rules
from redaction.settings import EntityLocked, EntitySettings

E = EntityId
ALL = frozenset(EntityId)
DEFAULT = default_active()
REDACTOR = Redactor(RedactionOptions())


def conversation(turns: list[tuple[str, str]], active: frozenset[EntityId] = DEFAULT) -> list[str]:
    context = ConversationContext()
    return [
        REDACTOR.redact(to_written(text), role, active, context, now=i * 3.0).text
        for i, (role, text) in enumerate(turns)
    ]


def test_documented_entities_and_defaults() -> None:
    assert [e.value for e in EntityId][:9] == [
        "CREDIT_CARD_NUMBER",
        "CVV",
        "PASSWORD",
        "PIN",
        "SSN",
        "EMAIL",
        "PHONE_NUMBER",
        "DOB",
        "PROFANITY",
    ]
    assert {E.CREDIT_CARD_NUMBER, E.CVV, E.PASSWORD, E.PIN, E.SSN} == DEFAULT
    assert ENTITIES[E.PASSWORD].description == "It redacts passwords"


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("My card is 4111 1111 1111 1111.", "My card is #### #### #### 1111."),
        ("It's 4111-1111-1111-1111", "It's ####-####-####-1111"),
        ("amex 378282246310005 thanks", "amex ###########0005 thanks"),
        ("four one one one, one one one one, one one one one, one one one one", "#### #### #### 1111"),
        ("My social is 012-03-1134", "My social is ###-##-1134"),
        ("my password is sunshine42", "my password is ##########"),
        (
            "my card number is 4111 1111 1111 1112 and the cvv is 561",
            "my card number is #### #### #### #### and the cvv is ###",  # not Luhn-valid: no last four
        ),
    ],
)
def test_entities_in_one_utterance(text: str, redacted: str) -> None:
    assert conversation([("customer", text)]) == [redacted]


def test_an_agent_question_redacts_the_answer_that_has_no_keyword() -> None:
    out = conversation(
        [
            ("agent", "Can I have the card number, please?"),
            ("customer", "Sure, 4111 1111"),
            ("customer", "1111 1111."),
            ("agent", "And the security code on the back?"),
            ("customer", "five six one"),
            ("agent", "What is your PIN?"),
            ("customer", "It is 5614."),
            ("agent", "Can you confirm your password?"),
            ("customer", "it's qwer1234"),
            ("customer", "My order number is 4527813 and it cost $59."),
        ]
    )
    assert out[1:3] == ["Sure, #### ####", "#### 1111."]
    assert out[4] == "###" and out[6] == "It is ####." and out[8] == "it's ########"
    assert out[9] == "My order number is 4527813 and it cost $59."  # questions answered: context is spent


def test_optional_entities_when_active() -> None:
    out = conversation(
        [
            ("customer", "email me at john dot smith at example dot com"),
            ("customer", "call me at 555-123-4567"),
            ("agent", "What is your date of birth?"),
            ("customer", "January thirty first nineteen eighty"),
            ("customer", "this is bullshit"),
        ],
        active=ALL,
    )
    assert out[0] == "email me at ####.#####@example.com"
    assert out[1] == "call me at ###-###-####"
    assert out[3] == "####### ##, ####"
    assert out[4] == "this is ########"


@pytest.mark.parametrize(
    "text",
    [
        "My order number is 4527813.",
        "It cost $59.",
        "The flight leaves March 3 at 10:30.",
        "I ordered 3 items.",
        "Use the card ending in 1234.",
        "Call 555-1234 after five.",
        "Between $1,000 and $2,000.",
        "It was $1,250.99 and $3,400.",
        "The flight on 12/25/2024 at 10:30.",
    ],
)
def test_near_misses_are_not_redacted(text: str) -> None:
    assert conversation([("customer", text)]) == [text]


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("The reference is 8823 4411 9032 7762.", "The reference is #### #### #### ####."),
        ("Call 555-123-4567", "Call ###-###-####"),
        ("order 12345678", "order ########"),
        ("Call 555-1234 after 5.", "Call ###-#### ##### #."),  # one unknown word joins written digits
        ("It is $5,000, $55,000, $55,000.", "It is $#,###, $##,###, $##,###."),  # "five five five..." as prices
    ],
)
def test_the_documented_cost_long_runs_are_masked_whatever_they_are_named(text: str, redacted: str) -> None:
    assert conversation([("customer", text)]) == [redacted]
    assert conversation([("customer", text)], active=DEFAULT - {E.CREDIT_CARD_NUMBER}) == [text]


def test_mask_keeps_the_shape_and_the_last_digits() -> None:
    from redaction.detectors import Span

    assert apply_mask("PIN number is 1234", [Span(14, 18, "PIN")], "#") == "PIN number is ####"
    assert apply_mask("4111 1111 1111 1111", [Span(0, 19, "CC", keep_last=4)], "*") == "**** **** **** 1111"


def test_custom_rules_are_validated_and_applied() -> None:
    rule = CustomRule("member_id", r"\bMB\d{6}\b", (RuleExample("id MB123456 ok", "id ######## ok"),))
    redactor = Redactor(RedactionOptions(), compile_rules([rule], "#", 0.05))
    assert redactor.redact("my member id is mb123456", "customer", DEFAULT).text == "my member id is ########"
    with pytest.raises(RuleError, match="'broken'.*invalid pattern"):
        compile_rules([CustomRule("broken", r"(unclosed")], "#", 0.05)
    with pytest.raises(RuleError, match="'wrong'.*fails its example"):
        compile_rules([CustomRule("wrong", r"\d+", (RuleExample("a 12", "a 12"),))], "#", 0.05)


def test_a_catastrophic_rule_times_out_and_the_utterance_is_masked_whole() -> None:
    rules = compile_rules([CustomRule("evil", r"(a|aa)+$")], "#", 0.02)  # exponential even for `regex`
    started = time.perf_counter()
    out = Redactor(RedactionOptions(rule_timeout_s=0.02), rules).redact("a" * 60 + "b secret", "customer", DEFAULT)
    assert time.perf_counter() - started < 2.0
    assert out.text == "#" * 61 + " ######"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "😀" * 100,
        "número uno dos tres 4111 1111 1111 1111",
        " ".join(["word"] * 10000),
        "a@" + "a." * 5000,
        "1 " * 5000,
        "four " * 3000,
    ],
)
def test_odd_and_huge_input_is_handled_in_bounded_time(text: str) -> None:
    started = time.perf_counter()
    out = REDACTOR.redact(to_written(text), "customer", ALL)
    assert time.perf_counter() - started < 2.0
    assert len(out.text) == len(to_written(text))
    assert "4111 1111 1111" not in out.text


def reloaded(kept: str, allow_pci_disable: bool = False) -> EntitySettings:
    settings = EntitySettings(allow_pci_disable)
    settings.load(kept)
    return settings


def test_entity_settings_are_kept_and_pci_is_locked() -> None:
    settings = EntitySettings()
    settings.set_active(E.EMAIL, True)
    settings.set_active(E.PIN, False)
    with pytest.raises(EntityLocked):
        settings.set_active(E.CVV, False)
    again = reloaded(settings.kept())
    assert E.EMAIL in again.active and E.PIN not in again.active and E.CVV in again.active
    admin = reloaded(settings.kept(), allow_pci_disable=True)
    admin.set_active(E.CREDIT_CARD_NUMBER, False)
    assert E.CREDIT_CARD_NUMBER not in reloaded(admin.kept(), allow_pci_disable=True).active
    assert E.CREDIT_CARD_NUMBER in reloaded(admin.kept()).active  # without the setting, PCI stays on


def test_a_failing_redactor_masks_the_utterance_and_logs_no_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from mediagw.postprocess import Conversations, TextStage

    class Exploding(Redactor):
        def redact(self, text: str, *args: object, **kwargs: object):  # type: ignore[no-untyped-def, override]
            raise ValueError(f"cannot parse {text}")

    stage = TextStage(Exploding(RedactionOptions()), EntitySettings(), Conversations(30, 3), "#")
    out = stage.process(
        "card 4111 1111 1111 1111", conversation_id="c", role="customer", smart_formatting=True, output="redacted"
    )
    assert out.text == "#### #### #### #### ####"
    assert "4111" not in caplog.text and "redaction failed (ValueError)" in caplog.text


def test_custom_rule_errors_stop_start_up_naming_the_rule(tmp_path: Path) -> None:
    from mediagw.config import ConfigError, load_config

    path = tmp_path / "rules.yaml"
    path.write_text("redaction:\n  custom_rules:\n    - name: badrule\n      pattern: '(unclosed'\n")
    with pytest.raises(ConfigError, match="badrule"):
        load_config(path, environ={})


def test_a_keep_rule_exempts_its_numbers_from_the_long_run_rule_but_not_cards() -> None:
    rule = CustomRule(
        "order",
        r"order number(?: is)? [\d ]{8,20}\d",
        (RuleExample("order number 1234 5678", "order number 1234 5678"),),
        keep=True,
    )
    redactor = Redactor(RedactionOptions(), compile_rules([rule], "#", 0.05))
    assert redactor.redact("my order number is 1234 5678 9012", "customer", DEFAULT).text == (
        "my order number is 1234 5678 9012"
    )
    assert redactor.redact("the reference is 1234 5678 9012", "customer", DEFAULT).text == (
        "the reference is #### #### ####"
    )
    card = redactor.redact("order number is 4111 1111 1111 1111", "customer", DEFAULT).text
    assert card == "order number is #### #### #### 1111"  # a Luhn-valid card is still one
    with pytest.raises(RuleError, match="'order'.*no match"):
        compile_rules([CustomRule("order", r"order \d+", (RuleExample("no digits", "no digits"),), keep=True)], "#", 1)
