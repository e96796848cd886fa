"""SIPREC call setup rate with sipp (samples/siprec/sipp/siprec_load.xml), ASR off (JSON).

    python -m bench.siprec_setup                 # 50, 100, 200 calls/s, 10 s each, calls held 2 s
    python -m bench.siprec_setup --rates 50 300

Each level is a fresh `mediagw serve`; sipp places INVITEs (SDP with two m-lines and metadata) at the target
rate over UDP, holds each call 2 s, then BYE. Reported: calls placed, successful and failed, the achieved rate,
retransmissions (a slow answer over UDP shows up there first) and sipp's mean INVITE->200 and BYE->200 times.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.common import GatewayProcess, run_levels
from tests.gateway import free_port

SCENARIO = Path(__file__).resolve().parent.parent / "samples" / "siprec" / "sipp" / "siprec_load.xml"


def run_level(rate: int, seconds: int = 10, hold_ms: int = 2000) -> dict[str, Any]:
    sipp = shutil.which("sipp")
    if sipp is None:
        raise SystemExit("sipp is not installed (Debian package sip-tester)")
    sip_port = free_port()
    overrides = {"MEDIAGW_ASR__ENABLED": "false", "MEDIAGW_SIPREC__PORT": str(sip_port)}
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess({**overrides, "MEDIAGW_SIPREC__HOST": "127.0.0.1"}, Path(data))
        stats = Path(data) / "stats.csv"
        try:
            command = [sipp, "-sf", str(SCENARIO), "-s", "srs", "-r", str(rate), "-m", str(rate * seconds)]
            command += ["-d", str(hold_ms), "-t", "u1", "-p", str(free_port()), "-nostdin", "-trace_stat"]
            command += ["-stf", str(stats), "-fd", "1", "-timeout", f"{seconds + 60}s", f"127.0.0.1:{sip_port}"]
            done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120, cwd=data)
            rows = list(csv.reader(stats.read_text().splitlines(), delimiter=";"))
        finally:
            gateway.stop()
    last = dict(zip(rows[0], rows[-1], strict=False))
    periods = [dict(zip(rows[0], row, strict=False)) for row in rows[1:]]
    return {
        "target_rate": rate,
        "calls": int(last["OutgoingCall(C)"]),
        "successful": int(last["SuccessfulCall(C)"]),
        "failed": int(last["FailedCall(C)"]),
        "calls_per_s_while_placing": round(int(last["OutgoingCall(C)"]) / seconds, 1),
        "retransmissions": int(last["Retransmissions(C)"]),
        # sipp's resolution is 1 ms: the worst per-period mean of INVITE->200 and BYE->200
        "invite_to_200_ms_max_period_mean": max(_ms(p["ResponseTimesetup(P)"]) for p in periods),
        "bye_to_200_ms_max_period_mean": max(_ms(p["ResponseTimeteardown(P)"]) for p in periods),
        "sipp_exit": done.returncode,
    }


def _ms(value: str) -> float:
    hours, minutes, seconds, micros = (int(part) for part in value.split(":"))
    return round(((hours * 60 + minutes) * 60 + seconds) * 1000 + micros / 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=int, nargs="*", default=[50, 100, 200])
    args = parser.parse_args()
    run_levels("siprec_setup", args.rates, run_level)


if __name__ == "__main__":
    main()
