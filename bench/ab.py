"""Before and after in one run: gateways of another commit (the baseline) and of this tree, runs interleaved.

The baseline is a git worktree of `--baseline-ref`, detached, made once under the cache directory
(`$XDG_CACHE_HOME/mediagw-bench/` or `~/.cache/mediagw-bench/`) and reused by later runs. Its gateway runs with
the same interpreter and venv, its working directory and PYTHONPATH set to that tree, so `python -m
mediagw.cli` imports the baseline's `mediagw`, `asr` and `redaction` ahead of the venv's editable install.
Runs alternate A B B A A B ... so that a machine load rising or falling through the run weighs on both alike.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.badline import cpu_name
from bench.common import ROOT, tree_environment

DEFAULT_BASELINE = "d6c32c8"  # main before issue 18's core redesign (call records, one adapter interface)


@dataclass(frozen=True)
class Tree:
    label: str  # "baseline" or "current"
    commit: str
    path: Path | None  # None: this tree, as every other bench runs it

    def describe(self) -> dict[str, Any]:
        return {"commit": self.commit, "path": str(self.path or ROOT)}


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def current_tree() -> Tree:
    commit = _git("rev-parse", "--short=12", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return Tree("current", commit + ("+changes" if dirty else ""), None)


def baseline_tree(ref: str) -> Tree:
    """A detached worktree of `ref` under the cache directory, made on first use and reused afterwards."""
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mediagw-bench"
    path = cache / f"tree-{commit[:12]}"
    if not (path / ".git").exists() or _git("rev-parse", "HEAD", cwd=path) != commit:
        cache.mkdir(parents=True, exist_ok=True)
        _git("worktree", "prune")  # forget a tree of an earlier run whose directory was removed
        if path.exists():
            _git("worktree", "remove", "--force", str(path))
        _git("worktree", "add", "--detach", str(path), commit)
    tree = Tree("baseline", commit[:12], path)
    _check_imports(tree)
    return tree


def _check_imports(tree: Tree) -> None:
    """Fails the run unless a process started as the gateway imports the tree's packages."""
    extra, cwd = tree_environment(tree.path)
    assert cwd is not None
    code = "import asr, mediagw, redaction; print(mediagw.__file__, asr.__file__, redaction.__file__)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env={**os.environ, **extra}, capture_output=True, text=True, check=True
    )
    files = done.stdout.split()
    assert len(files) == 3 and all(Path(f).resolve().is_relative_to(cwd.resolve()) for f in files), files


def schedule(trees: tuple[Tree, Tree], pairs: int) -> list[tuple[int, Tree]]:
    """(pair, tree) in the order to run: A B, then B A, then A B ...; each pair's two runs share their inputs."""
    order = []
    for pair in range(pairs):
        first, second = trees if pair % 2 == 0 else trees[::-1]
        order += [(pair, first), (pair, second)]
    return order


def machine() -> dict[str, Any]:
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "load_1_5_15": [round(x, 2) for x in os.getloadavg()]}


def compare(
    runs: list[dict[str, Any]],
    value: Callable[[dict[str, Any]], float],
    keep: Callable[[dict[str, Any]], bool] = lambda run: True,
) -> dict[str, Any]:
    """A figure per tree (each run's, their median and mean) and current / baseline: per pair, their median (the
    headline: a pair's two runs ran back to back, and one pair caught by a burst of load moves it least), and of
    the medians and means. Only pairs whose two runs both pass `keep`."""
    by_pair: dict[int, dict[str, float]] = {}
    for run in runs:
        by_pair.setdefault(run["pair"], {})[run["tree"]] = value(run) if keep(run) else float("nan")
    pairs = [p for p in by_pair.values() if len(p) == 2 and not any(math.isnan(v) for v in p.values())]
    summary: dict[str, Any] = {"pairs": len(pairs), "pairs_left_out": len(by_pair) - len(pairs)}
    if not pairs:
        return summary
    for tree in ("baseline", "current"):
        values = [p[tree] for p in pairs]
        summary[tree] = {
            "runs": values,
            "median": round(statistics.median(values), 4),
            "mean": round(statistics.fmean(values), 4),
        }
    per_pair = [p["current"] / p["baseline"] for p in pairs]
    summary["ratio_current_to_baseline"] = {
        "median_of_pairs": round(statistics.median(per_pair), 3),
        "per_pair": [round(r, 3) for r in per_pair],
        "of_medians": round(summary["current"]["median"] / summary["baseline"]["median"], 3),
        "of_means": round(summary["current"]["mean"] / summary["baseline"]["mean"], 3),
    }
    return summary
