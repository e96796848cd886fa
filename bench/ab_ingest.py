"""Twilio ingest CPU before and after a change, in one run: gateway CPU per call-second, ASR off (JSON).

    python -m bench.ab_ingest                                  # 300 calls, 6 pairs, baseline d6c32c8
    python -m bench.ab_ingest --baseline-ref main --pairs 6 --calls 300 --seconds 30

Each run is one level of bench.twilio_ingest: `--calls` real-time Twilio calls (both tracks, 20 ms chunks)
played by a uvloop client process, start-streaming sent for every one (audio decoded and fed to the pipelines,
ASR off), the gateway a process of its own. The figure is the gateway's CPU (user + system, /proc) while every
call streams, per call-second of media. The baseline's gateway runs from a worktree of `--baseline-ref`
(bench/ab.py), the current one from this tree; runs alternate A B B A ... Issue 18's bound: current / baseline
at most 1.05, read as the median of the per-pair ratios: while every call streams (pairs whose calls all
connected within 3 s), the same where both gateways also kept up (`kept_up`: on a shared machine a starved
gateway spends less CPU per message, see bench/README.md), and over the whole run (the same work in every run:
all calls' media, connects and stops; the figure least moved by load).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bench.ab import DEFAULT_BASELINE, baseline_tree, compare, current_tree, machine, schedule
from bench.twilio_ingest import run_level

KEPT_UP_MS = 20.0
MAX_CONNECT_SPREAD_S = 3.0


def all_streaming(run: dict[str, Any]) -> bool:
    """The steady window had every call streaming: they all connected within 3 s (bench.twilio_ingest), not one
    by one over the run as on a machine loaded far beyond its cores."""
    return bool(run["connect_spread_s"] is not None and run["connect_spread_s"] <= MAX_CONNECT_SPREAD_S)


def kept_up(run: dict[str, Any]) -> bool:
    """The gateway's loop kept up with the media: /v1/health answered within 20 ms at the median. A gateway
    starved of CPU by other processes reads several messages per wakeup and spends less CPU on each, so a pair
    with one starved run compares loads, not code."""
    probe = run["health_probe_ms"]["p50"]
    return all_streaming(run) and probe is not None and probe <= KEPT_UP_MS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-ref", default=DEFAULT_BASELINE, help="the commit to compare with")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=30.0, help="media per call and run")
    parser.add_argument("--pairs", type=int, default=6, help="runs per tree")
    args = parser.parse_args()
    trees = (baseline_tree(args.baseline_ref), current_tree())
    report: dict[str, Any] = {
        "benchmark": "ab_ingest",
        "trees": {tree.label: tree.describe() for tree in trees},
        "machine_before": machine(),
        "runs": [],
    }
    for pair, tree in schedule(trees, args.pairs):
        level = run_level(args.calls, True, "uvloop", args.seconds, tree.path)
        run = {"pair": pair, "tree": tree.label, "load_1": round(machine()["load_1_5_15"][0], 2), **level}
        report["runs"].append(run)
        print(json.dumps(run), flush=True)
    report["machine_after"] = machine()
    steady, whole = (
        (lambda r: r["steady_server_cpu_ms_per_call_second"]),
        (lambda r: r["server_cpu_ms_per_call_second"]),
    )
    report["cpu_ms_per_call_second"] = compare(report["runs"], steady, all_streaming)
    report["cpu_ms_per_call_second_kept_up"] = compare(report["runs"], steady, kept_up)
    report["cpu_ms_per_call_second_whole_run"] = compare(report["runs"], whole)
    report["bound"] = "current / baseline <= 1.05"
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
