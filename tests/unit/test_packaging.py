"""The package ships its defaults: a wheel installed outside the checkout loads them (`mediagw check-config`),
and configs/default.yaml, the copy newcomers read, is the packaged file itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from mediagw.config import DEFAULT_CONFIG

ROOT = Path(__file__).resolve().parents[2]


def test_configs_default_yaml_is_the_packaged_defaults() -> None:
    assert Path(str(DEFAULT_CONFIG)) == ROOT / "mediagw" / "default.yaml"
    assert (ROOT / "configs" / "default.yaml").read_bytes() == DEFAULT_CONFIG.read_bytes()


def build_wheel(out: Path) -> Path:
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    if build.returncode and "No matching distribution" in build.stderr:
        pytest.skip("the build backend (setuptools) cannot be fetched here")
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = out.glob("mediagw-*.whl")
    return wheel


def test_an_installed_wheel_loads_its_defaults_outside_the_checkout(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "wheels")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    subprocess.run([*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True, timeout=120)
    site = subprocess.run(
        [venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    # The dependencies come from this environment's site-packages; mediagw only from the wheel.
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MEDIAGW_", "PYTHON"))}
    run = subprocess.run(
        [venv / "bin" / "mediagw", "check-config"], cwd=outside, env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr[-2000:]
    config = json.loads(run.stdout)
    assert config["server"]["port"] == 8080 and config["asr"]["max_backlog"] == 64
    where = subprocess.run(
        [venv / "bin" / "python", "-c", "import mediagw.config as c; print(c.DEFAULT_CONFIG)"],
        cwd=outside, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(venv) and Path(where).is_file()
