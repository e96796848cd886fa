"""The layering DESIGN.md draws: asr/ and redaction/ never import mediagw/; the core and the control API never
import an adapter, and no adapter imports another."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imports(path: Path) -> set[str]:
    """Every module a file imports, TYPE_CHECKING blocks included."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def files(*parts: str) -> list[Path]:
    return sorted(ROOT.joinpath(*parts).rglob("*.py"))


def test_asr_and_redaction_do_not_import_the_gateway() -> None:
    for path in files("asr") + files("redaction"):
        assert not any(name.split(".")[0] == "mediagw" for name in imports(path)), path


def test_the_core_and_the_control_api_name_no_adapter() -> None:
    core = files("mediagw", "core") + [
        ROOT / "mediagw" / name
        for name in ("services.py", "streams.py", "delivery.py", "tasks.py", "pipeline.py", "recovery.py")
    ]
    for path in [*core, ROOT / "mediagw" / "api" / "control.py"]:
        assert not any(name.startswith("mediagw.ingress") for name in imports(path)), path


def test_adapters_do_not_import_each_other() -> None:
    adapters = [p.name for p in (ROOT / "mediagw" / "ingress").iterdir() if p.is_dir() and p.name != "__pycache__"]
    for adapter in adapters:
        others = {f"mediagw.ingress.{other}" for other in adapters if other != adapter}
        for path in files("mediagw", "ingress", adapter):
            assert not any(name.startswith(tuple(others)) for name in imports(path)), path
