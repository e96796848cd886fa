"""More scripted calls than the two samples, for WER figures that one word does not move: the eight calls of
bench/corpus/calls_en.json (~760 words; the samples have ~190), synthesized as samples/make_samples.py makes the
samples (flite's two voices, a faint noise floor, 8 kHz two-channel FLAC with a script sidecar).

The audio is generated, not committed: on first use into ~/.cache/mediagw-bench/calls-<hash of the scripts and of
the generator>/ (flite: ~10 s), then read from there.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from types import ModuleType

from bench.common import CALLS, ROOT, Channel, sample_channels

SCRIPTS = ROOT / "bench" / "corpus" / "calls_en.json"
GENERATOR = CALLS.parent / "make_samples.py"
CACHE = Path.home() / ".cache" / "mediagw-bench"


def corpus_channels() -> list[Channel]:
    """Each channel of the corpus calls, built on first use."""
    scripts = json.loads(SCRIPTS.read_text())
    digest = hashlib.sha256(SCRIPTS.read_bytes() + GENERATOR.read_bytes()).hexdigest()[:12]
    directory = CACHE / f"calls-{digest}"
    if not all((directory / f"{name}.json").exists() for name in scripts):
        directory.mkdir(parents=True, exist_ok=True)
        generator = _generator()
        for name, script in scripts.items():
            generator.build_call(name, script, directory)
    return sample_channels(directory=directory)


def all_channels() -> list[Channel]:
    """The two sample calls and the corpus: ~950 words."""
    return sample_channels() + corpus_channels()


def _generator() -> ModuleType:
    """samples/make_samples.py (a script, not a package)."""
    spec = importlib.util.spec_from_file_location("make_samples", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
