"""What the ops console costs media, and how fast its live list is (JSON).

    python -m bench.console ingest [--calls 100] [--consoles 10] [--rounds 2]
    python -m bench.console updates [--calls 500] [--changes 60]

ingest: Twilio ingest (bench/twilio_ingest.py's client: N real-time calls, both tracks, transcription started,
ASR off) with no console open, then with `--consoles` consoles open on the live list (each its own logged-in
server-sent event stream, read to the end by a separate process), alternating, `--rounds` times each, in one run.
Reported: the gateway's steady CPU per call-second for each, and the ratio with consoles / without.

updates: `--calls` live Twilio calls (not started) on one gateway, their media flowing for `--seconds` (60: all
along; 1: the calls stay listed, silent), the live list open in Debian's chromium; `--changes` start-streaming
requests, one every 0.25 s, each timed from just before its POST to the moment the browser's list shows the
call's new leg (a MutationObserver in the page, on the same clock). Reported: p50/p95/max of that delay (the
target: p95 under 1 s), of the POST's own answer, and of the list's update after that answer; the gateway's CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import API_HEADERS, GatewayProcess, percentiles, probe_while_media_flows
from bench.twilio_ingest import _client
from tests.gateway import API_ID, API_SECRET

OVERRIDES = {
    "MEDIAGW_ASR__ENABLED": "false",
    "MEDIAGW_TWILIO__IDLE_TIMEOUT_S": "120",
    "MEDIAGW_TWILIO__START_GRACE_S": "10",
    "MEDIAGW_AUTH__REQUESTS_PER_SECOND": "0",
}


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _consoles(base_url: str, count: int, stop: Any, result: Any) -> None:
    """`count` consoles on the live list until `stop` is set: their events, counted."""
    import uvloop

    uvloop.run(_watch(base_url, count, stop, result))


async def _watch(base_url: str, count: int, stop: Any, result: Any) -> None:
    received = [0] * count

    async def one(index: int) -> None:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar, timeout=aiohttp.ClientTimeout()) as session:
            login = {"appId": API_ID, "secret": API_SECRET}
            async with session.post(f"{base_url}/console/api/login", json=login) as answer:
                assert answer.status == 200, await answer.text()
            async with session.get(f"{base_url}/console/api/events") as events:
                async for line in events.content:
                    if line.startswith(b"event: "):
                        received[index] += 1

    tasks = [asyncio.create_task(one(i)) for i in range(count)]
    await asyncio.to_thread(stop.wait)  # a multiprocessing event, set by the bench's main process
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    result["events"] = sum(received)


def ingest_once(calls: int, consoles: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess(OVERRIDES, Path(data))
        manager = multiprocessing.Manager()
        result, watched, stop = manager.dict(), manager.dict(), manager.Event()
        viewers = multiprocessing.Process(target=_consoles, args=(gateway.base_url, consoles, stop, watched))
        try:
            if consoles:
                viewers.start()
            client = multiprocessing.Process(target=_client, args=(gateway.base_url, calls, seconds, True, result))
            client.start()
            probe, cores = asyncio.run(probe_while_media_flows(gateway, result, settle_s=2.0, window_s=seconds - 5.0))
            client.join(seconds + 120)
        finally:
            stop.set()
            if consoles:
                viewers.join(30)
            gateway.stop()
    return {
        "consoles": consoles,
        "calls": calls,
        "steady_server_cpu_ms_per_call_second": round(cores * 1000 / calls, 4),
        "health_probe_ms": percentiles(probe),
        "console_events": watched.get("events", 0),
        "client_done": client.exitcode == 0,
    }


def ingest(args: argparse.Namespace) -> dict[str, Any]:
    runs: dict[int, list[dict[str, Any]]] = {0: [], args.consoles: []}
    for round_ in range(args.rounds):  # A B B A ...: a drifting load weighs on both alike
        for consoles in (0, args.consoles) if round_ % 2 == 0 else (args.consoles, 0):
            runs[consoles].append(ingest_once(args.calls, consoles, args.seconds))
            print(json.dumps(runs[consoles][-1]), flush=True)
    cost = {n: statistics.median(r["steady_server_cpu_ms_per_call_second"] for r in rs) for n, rs in runs.items()}
    pairs = [
        with_["steady_server_cpu_ms_per_call_second"] / without["steady_server_cpu_ms_per_call_second"]
        for without, with_ in zip(runs[0], runs[args.consoles], strict=True)
    ]
    return {
        "benchmark": "console_ingest",
        "cpu": cpu_model(),
        "load_average": os.getloadavg(),
        "without_consoles_ms_per_call_second_median": round(cost[0], 4),
        "with_consoles_ms_per_call_second_median": round(cost[args.consoles], 4),
        "ratio_of_medians": round(cost[args.consoles] / cost[0], 3),
        "pair_ratios": [round(r, 3) for r in pairs],
        "median_pair_ratio": round(statistics.median(pairs), 3),
        "runs": runs,
    }


WATCH = """
window.__seen = {};
window.__watch = new Set(arguments[0]);
new MutationObserver((records) => {
  for (const record of records) for (const node of record.addedNodes) {
    const key = node.dataset && node.dataset.key;
    if (!key || !window.__watch.has(key) || window.__seen[key]) continue;
    if (node.cells[2].textContent !== "0") window.__seen[key] = Date.now();  // legs: the start's leg is shown
  }
}).observe(document.querySelector("#calls-table tbody"), { childList: true });
"""


def updates(args: argparse.Namespace) -> dict[str, Any]:
    from tests.browser import browser_binaries, start_browser

    binaries = browser_binaries()
    if binaries is None:
        raise SystemExit("chromium or chromedriver is missing (apt-get install chromium chromium-driver)")
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess(OVERRIDES, Path(data))
        manager = multiprocessing.Manager()
        result = manager.dict()
        load = (gateway.base_url, args.calls, args.seconds, False, result)
        client = multiprocessing.Process(target=_client, args=load)
        client.start()
        browser = start_browser(binaries)
        try:
            for _ in range(6000):
                if "media_started_at" in result:
                    break
                time.sleep(0.1)
            if args.seconds < 5:  # silent calls: wait for their media to end
                client.join(60)
            cpu0, wall0 = gateway.cpu_seconds(), time.monotonic()
            delays, shown = asyncio.run(_change(gateway.base_url, browser, args))
            cores = (gateway.cpu_seconds() - cpu0) / (time.monotonic() - wall0)
        finally:
            browser.quit()
            client.join(args.seconds + 120)
            gateway.stop()
    return {
        "benchmark": "console_updates",
        "cpu": cpu_model(),
        "load_average": os.getloadavg(),
        "calls": args.calls,
        "media_seconds": args.seconds,
        "rows_shown": shown,
        "changes": args.changes,
        "seen": len(delays["update_delay_ms"]),
        "gateway_cpu_cores": round(cores, 2),  # from the list's load to the last change: near 2 is saturated here
        **{name: percentiles(values) for name, values in delays.items()},
        "p95_under_1s": (percentiles(delays["update_delay_ms"])["p95"] or 1e9) < 1000,
    }


async def _change(base_url: str, browser: Any, args: argparse.Namespace) -> tuple[dict[str, list[float]], int]:
    driver = browser.driver
    driver.get(f"{base_url}/console/")
    browser.wait_for(lambda d: d.find_elements("id", "login-form"), what="login form")
    driver.find_element("id", "app-id").send_keys(API_ID)
    driver.find_element("id", "secret").send_keys(API_SECRET)
    driver.find_element("id", "login-button").click()
    rows = "#calls-table tbody tr"
    browser.wait_for(lambda d: len(d.find_elements("css selector", rows)) >= args.calls, 120, "every call listed")
    shown = len(driver.find_elements("css selector", rows))
    picked = random.Random(7).sample(range(args.calls), args.changes)
    keys = [f"twilio/CA{index:032x}" for index in picked]
    driver.execute_script(WATCH, keys)
    sent: dict[str, float] = {}
    answered: dict[str, float] = {}
    async with aiohttp.ClientSession() as session:
        for key in keys:
            sent[key] = time.time()
            body = {"namespace": "twilio", "guid": key.split("/")[1], "customerId": "c", "agentId": "a"}
            url = f"{base_url}/mg-autotranscribe/v1/start-streaming"
            async with session.post(url, json=body, headers=API_HEADERS) as answer:
                assert answer.status == 200, await answer.text()
            answered[key] = time.time()
            await asyncio.sleep(0.25)
    await asyncio.sleep(5.0)
    seen = driver.execute_script("return window.__seen")
    return {
        "update_delay_ms": [seen[k] / 1000 - sent[k] for k in keys if k in seen],
        "start_answered_ms": [answered[k] - sent[k] for k in keys],
        "update_after_answer_ms": [seen[k] / 1000 - answered[k] for k in keys if k in seen],
    }, shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)
    one = modes.add_parser("ingest")
    one.add_argument("--calls", type=int, default=100)
    one.add_argument("--consoles", type=int, default=10)
    one.add_argument("--rounds", type=int, default=2)
    one.add_argument("--seconds", type=float, default=20.0)
    two = modes.add_parser("updates")
    two.add_argument("--calls", type=int, default=500)
    two.add_argument("--changes", type=int, default=60)
    two.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    print(json.dumps(ingest(args) if args.mode == "ingest" else updates(args), indent=1))


if __name__ == "__main__":
    main()
