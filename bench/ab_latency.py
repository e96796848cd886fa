"""Segment closed -> transcript before and after a change, in one run: p50 of each tree's gateway (JSON).

    python -m bench.ab_latency                                 # 10 streams, 3 pairs, baseline d6c32c8
    python -m bench.ab_latency --baseline-ref main --pairs 4 --streams 20

Each run is one level of bench.latency: `--streams` real-time streams over the direct WebSocket API (the
sample channels rotated to random pauses, ASR on with the default config), (b) the segmenter closing an
utterance (its end + end_silence_ms) to its transcript arriving, and (a) end of scripted speech to transcript.
Speculative decode is off in both (segmenter.speculate_ms 0, `--set` to change): with the adaptive wait an
utterance closes anywhere in a range a client cannot see, so (b) would no longer start at the close.
The baseline's gateway runs from a worktree of `--baseline-ref` (bench/ab.py), the current one from this tree;
runs alternate A B B A ..., and both runs of a pair replay the same streams (the pair's seed). Reported: each
run's p50, all utterances of a tree pooled, and current / baseline. Issue 18's bound: p50 unchanged within noise
(read the ratio against the spread of the per-pair ratios).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import numpy as np

from bench.ab import DEFAULT_BASELINE, baseline_tree, compare, current_tree, machine, schedule
from bench.latency import run_level


def pooled(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """p50 of every utterance of each tree's runs together (each run's own p50 weighs by its count)."""
    out: dict[str, Any] = {}
    for tree in ("baseline", "current"):
        values = [v for r in runs if r["tree"] == tree for v in r.pop(f"_{key}")]
        out[tree] = {"n": len(values), "p50": round(float(np.percentile(values, 50)) * 1000, 1) if values else None}
    if out["baseline"]["p50"] and out["current"]["p50"]:
        out["ratio_current_to_baseline"] = round(out["current"]["p50"] / out["baseline"]["p50"], 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-ref", default=DEFAULT_BASELINE, help="the commit to compare with")
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--pairs", type=int, default=3, help="runs per tree")
    parser.add_argument("--set", action="append", default=[], metavar="MEDIAGW_X=Y", help="override for both")
    args = parser.parse_args()
    overrides = {"MEDIAGW_SEGMENTER__SPECULATE_MS": "0", **dict(item.split("=", 1) for item in args.set)}
    trees = (baseline_tree(args.baseline_ref), current_tree())
    report: dict[str, Any] = {
        "benchmark": "ab_latency",
        "trees": {tree.label: tree.describe() for tree in trees},
        "overrides": overrides,
        "machine_before": machine(),
        "runs": [],
    }
    for pair, tree in schedule(trees, args.pairs):
        level = asyncio.run(run_level(args.streams, overrides, seed=pair + 1, tree=tree.path, keep_values=True))
        run = {"pair": pair, "tree": tree.label, "load_1": round(machine()["load_1_5_15"][0], 2), **level}
        report["runs"].append(run)
        print(json.dumps({k: v for k, v in run.items() if not k.startswith("_")}), flush=True)
    report["machine_after"] = machine()
    runs = report["runs"]
    report["b_segment_closed_to_transcript_p50_ms"] = {
        "per_run": compare(runs, lambda r: r["b_segment_closed_to_transcript_ms"]["p50"]),
        "pooled": pooled(runs, "b"),
    }
    report["a_speech_end_to_transcript_p50_ms"] = {
        "per_run": compare(runs, lambda r: r["a_speech_end_to_transcript_ms"]["p50"]),
        "pooled": pooled(runs, "a"),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
