"""Configuration loading and streaming URL tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediagw.config import ConfigError, load_config
from mediagw.tokens import InvalidToken, TokenSigner


def test_defaults_load_and_environment_overrides_them() -> None:
    config = load_config(
        environ={
            "MEDIAGW_SERVER__PORT": "9000",
            "MEDIAGW_ASR__MODEL__DEVICE": "cuda",
            "MEDIAGW_ASR__ENABLED": "false",
            "MEDIAGW_SEGMENTER__END_SILENCE_MS": "300",
            "OTHER_VAR": "x",
        }
    )
    assert config.server.port == 9000
    assert config.asr.model.device == "cuda" and not config.asr.enabled
    assert config.segmenter.end_silence_ms == 300
    assert config.auth.apps[0].id == "local-dev"


def test_a_user_file_is_merged_over_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("asr:\n  decode:\n    beam_size: 3\n")
    config = load_config(path, environ={})
    assert config.asr.decode.beam_size == 3 and config.asr.decode.window_seconds == 10.0


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MEDIAGW_SERVER__PROT": "1"}, "unknown setting.*server.prot"),
        ({"MEDIAGW_SERVER__PORT": "eighty"}, "server.port must be int"),
        ({"MEDIAGW_ASR__ENABLED": "3"}, "asr.enabled must be bool"),
        ({"MEDIAGW_SEGMENTER__AGGRESSIVENESS": "9"}, "aggressiveness"),
    ],
)
def test_bad_settings_are_named_in_the_error(environ: dict[str, str], message: str) -> None:
    with pytest.raises((ConfigError, ValueError), match=message):
        load_config(environ=environ)


def test_tokens_verify_until_they_expire() -> None:
    signer = TokenSigner("k", ttl_s=300)
    token = signer.issue("app", "call-9", now=1000.0)
    claims = signer.verify(token, now=1299.0)
    assert (claims.app_id, claims.external_id) == ("app", "call-9")
    with pytest.raises(InvalidToken, match="expired"):
        signer.verify(token, now=1301.0)


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + "AA", lambda t: "x" + t, lambda t: "", lambda t: "a.b"])
def test_forged_tokens_are_refused(mangle) -> None:  # type: ignore[no-untyped-def]
    signer = TokenSigner("k", ttl_s=300)
    with pytest.raises(InvalidToken):
        signer.verify(mangle(signer.issue("app", "c")))
    with pytest.raises(InvalidToken):
        TokenSigner("other", ttl_s=300).verify(signer.issue("app", "c"))


def test_spike_arrest_allows_the_rate_and_refills() -> None:
    from mediagw.api.auth import SpikeArrest

    arrest = SpikeArrest(100)
    assert sum(arrest.allow("app", now=0.0) for _ in range(150)) == 100
    assert arrest.allow("other", now=0.0)  # apps are independent
    assert not arrest.allow("app", now=0.005)
    assert sum(arrest.allow("app", now=0.5) for _ in range(100)) == 50
