"""Hostile clients against a gateway process (issue 15): one command, bounded loops, one JSON object out.

    python -m bench.abuse [--starts 2000] [--only item7_bad_input ...]

Each probe replays one finding and reports what the gateway answered (statuses, close codes, RSS, log lines).
More probes (SIPREC floods, connection limits) join with `@probe("name")` on an async function of a `Target`;
`EXTRA_OVERRIDES` takes the settings they need (the gateway's SIP port is `Target.sip_port` when one is set).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import stat
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import API_HEADERS, GatewayProcess
from mediagw.api.auth import hash_secret
from mediagw.ingress.audiohook.auth import Credentials, sign_upgrade
from tests.gateway import API_ID, API_SECRET

AUDIOHOOK_KEY = "abuse-key"
AUDIOHOOK_SECRET = base64.b64encode(b"secret-shared-with-genesys").decode()
OPS = {"asapp-api-id": "ops", "asapp-api-secret": "ops-secret"}
EXTRA_OVERRIDES: dict[str, str] = {}


@dataclass
class Target:
    gateway: GatewayProcess
    base_url: str
    port: int
    log_path: Path
    data_dir: Path
    args: argparse.Namespace
    sip_port: int = 0

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.gateway.process.pid}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        return round(int(match.group(1)) / 1024, 1) if match else -1.0

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


Probe = Callable[[Target], Awaitable[dict[str, Any]]]
PROBES: list[tuple[str, Probe]] = []


def probe(name: str) -> Callable[[Probe], Probe]:
    def register(function: Probe) -> Probe:
        PROBES.append((name, function))
        return function

    return register


async def _twilio_url(session: aiohttp.ClientSession, base_url: str) -> str:
    async with session.get(f"{base_url}/mg-autotranscribe/v1/twilio-media-stream-url", headers=API_HEADERS) as r:
        return str((await r.json())["streamingUrl"])


async def _direct_url(session: aiohttp.ClientSession, base_url: str) -> str:
    async with session.post(f"{base_url}/autotranscribe/v1/streaming-url", headers=API_HEADERS, json={}) as r:
        return str((await r.json())["streamingUrl"])


async def _close_code(session: aiohttp.ClientSession, url: str, send: str | None = None) -> int | str:
    try:
        async with session.ws_connect(url, max_msg_size=0) as ws:
            if send is not None:
                await ws.send_str(send)
            async for _ in ws:
                pass
            return ws.close_code if ws.close_code is not None else "none"
    except aiohttp.WSServerHandshakeError as error:
        return f"http {error.status}"


async def _raw(port: int, data: bytes, hang_up: bool = False) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    answer = b"" if hang_up else await reader.read(4096)
    writer.close()
    return answer


async def _wait_for(check: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)  # a poll's interval
    return True


@probe("item4_twilio_oversized_call_sids")
async def oversized_call_sids(target: Target) -> dict[str, Any]:
    rss_before, log_before = target.rss_mb(), target.log_path.stat().st_size
    codes: Counter[str] = Counter()
    gate = asyncio.Semaphore(25)
    async with aiohttp.ClientSession() as session:
        url = await _twilio_url(session, target.base_url)

        async def one(index: int) -> None:
            start = {"callSid": "CA" + f"{index:x}" * (60_000 // len(f"{index:x}")), "streamSid": "MZ" + "0" * 32}
            async with gate:
                codes[str(await _close_code(session, url, json.dumps({"event": "start", "start": start})))] += 1

        await asyncio.gather(*(one(i) for i in range(target.args.starts)))
    return {
        "starts": target.args.starts,
        "close_codes": dict(codes),
        "rss_mb_before": rss_before,
        "rss_mb_after": target.rss_mb(),
        "log_bytes_added": target.log_path.stat().st_size - log_before,
    }


@probe("item6_log_injection")
async def log_injection(target: Target) -> dict[str, Any]:
    path = "/configuration/v1/redaction-entities/X%0D%0A2026-01-01%2000:00:00,000%20INFO%20mediagw:%20forged%1B%5B2J"
    async with aiohttp.ClientSession() as session, session.get(target.base_url + path) as response:
        status = response.status
    await _wait_for(lambda: "forged" in target.log_text())
    lines = target.log_text().splitlines()
    forged = next((line for line in lines if "forged" in line), "")
    return {
        "status": status,
        "forged_lines": sum(1 for line in lines if line.startswith("2026-01-01")),
        "raw_escapes": target.log_text().count("\x1b"),
        "logged_as": forged[forged.find("/X") : forged.find("forged") + 20],
    }


@probe("item7_bad_input")
async def bad_input(target: Target) -> dict[str, Any]:
    deep = b"[" * 1000 + b"]" * 1000
    endpoints = [
        ("POST", "/autotranscribe/v1/streaming-url"),
        ("POST", "/mg-autotranscribe/v1/start-streaming"),
        ("POST", "/mg-autotranscribe/v1/stop-streaming"),
        ("GET", "/conversation/v1/conversation/messages"),
        ("PATCH", "/configuration/v1/redaction-entities/PASSWORD"),
        ("POST", "/configuration/v1/custom-vocabularies"),
    ]
    result: dict[str, Any] = {}
    async with aiohttp.ClientSession(headers=API_HEADERS) as session:
        deep_answers = {}
        for method, path in endpoints:
            async with session.request(method, target.base_url + path, data=deep) as response:
                body = await response.json()
                deep_answers[path] = f"{response.status} {body.get('error', {}).get('code', '')}"
        result["deep_json"] = deep_answers
        head = (
            f"GET /conversation/v1/conversation/messages?externalId=x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"asapp-api-id: {API_ID}\r\nConnection: close\r\n"
        ).encode() + b"asapp-api-secret: \xc3\xa9\r\n\r\n"
        result["non_ascii_secret"] = (await _raw(target.port, head)).split(b"\r\n", 1)[0].decode()
        tokens = {}
        for name, path in (
            ("direct", "/autotranscribe/v1/stream"),
            ("twilio", "/mg-autotranscribe/v1/twilio-media-stream"),
        ):
            tokens[name] = await _close_code(session, f"ws://127.0.0.1:{target.port}{path}?token=a.%C3%A9")
        result["non_ascii_token_close"] = tokens
    body_start = b'{"namespace": "tw'
    head = (
        f"POST /mg-autotranscribe/v1/start-streaming HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n"
        f"asapp-api-id: {API_ID}\r\nasapp-api-secret: {API_SECRET}\r\n\r\n"
    ).encode()
    await _raw(target.port, head + body_start, hang_up=True)
    await _wait_for(lambda: "client disconnected" in target.log_text())
    log = target.log_text()
    result["mid_body_disconnect"] = {
        "info_line": "client disconnected" in log,
        "errors_logged": log.count(" ERROR "),
        "tracebacks": log.count("Traceback"),
    }
    return result


@probe("item8_authentication")
async def authentication(target: Target) -> dict[str, Any]:
    url = target.base_url + "/conversation/v1/conversation/messages?externalId=x"
    wrong = {"asapp-api-id": API_ID, "asapp-api-secret": "wrong"}
    attacker = aiohttp.TCPConnector(local_addr=("127.0.0.3", 0), limit=50)
    statuses: Counter[int] = Counter()
    async with aiohttp.ClientSession(connector=attacker) as session:

        async def guess() -> None:
            async with session.get(url, headers=wrong) as response:
                statuses[response.status] += 1

        await asyncio.gather(*(guess() for _ in range(200)))
        async with session.get(url, headers=API_HEADERS) as response:
            attacker_with_right_secret = response.status
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers=API_HEADERS) as response:
            other_address = response.status
        async with session.get(url, headers=OPS) as response:
            out_of_scope = f"{response.status} {(await response.json())['error']['code']}"
        direct, twilio = await _direct_url(session, target.base_url), await _twilio_url(session, target.base_url)
        crossed = {
            "direct_token_on_twilio": await _close_code(session, twilio.split("?")[0] + "?" + direct.split("?")[1]),
            "twilio_token_on_direct": await _close_code(session, direct.split("?")[0] + "?" + twilio.split("?")[1]),
        }
        replayed = await _audiohook_upgrade(session, target, created=time.time() - 120)
        fresh = await _audiohook_upgrade(session, target, created=time.time())
    return {
        "wrong_secrets": dict(statuses),
        "same_address_right_secret": attacker_with_right_secret,
        "other_address": other_address,
        "ops_app_get_messages": out_of_scope,
        "tokens": crossed,
        "audiohook_signed_before_start": replayed,
        "audiohook_signed_now": fresh,
    }


async def _audiohook_upgrade(session: aiohttp.ClientSession, target: Target, created: float) -> int:
    path = "/mg-genesysaudiohook-autotranscribe/"
    identity = Credentials(
        AUDIOHOOK_KEY,
        "d7934305-0972-4844-938e-9060eef73d05",
        "30b0e395-84d3-4570-ac13-9a62d8f514c0",
        "e160e428-53e2-487c-977d-96989bf5c99d",
    )
    headers = sign_upgrade(
        identity, AUDIOHOOK_SECRET, path_with_query=path, authority=f"127.0.0.1:{target.port}", now=created
    )
    try:
        async with session.ws_connect(target.base_url + path, headers=headers) as ws:
            await ws.close()
            return 101
    except aiohttp.WSServerHandshakeError as error:
        return error.status


@probe("item10_files_and_hosts")
async def files_and_hosts(target: Target) -> dict[str, Any]:
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in [target.data_dir, *target.data_dir.iterdir()]}
    hosts = {}
    async with aiohttp.ClientSession(headers=API_HEADERS) as session:
        for host in ("evil.example", f"127.0.0.1:{target.port}"):
            post = session.post(f"{target.base_url}/autotranscribe/v1/streaming-url", headers={"Host": host})
            async with post as response:
                body = await response.json()
                hosts[host] = body.get("streamingUrl", "")[:40] or f"{response.status} {body['error']['code']}"
    return {"modes": modes, "streaming_url_by_host (allowed_hosts: [127.0.0.1])": hosts}


async def run_probes(target: Target, only: set[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, function in PROBES:
        if only and name not in only:
            continue
        started = time.monotonic()
        try:
            results[name] = await function(target)
        except Exception as error:  # a probe that breaks is reported, the others still run
            results[name] = {"probe_failed": f"{type(error).__name__}: {error}"}
        results[name]["seconds"] = round(time.monotonic() - started, 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=2000, help="Twilio starts with 60 KB callSids (item 4)")
    parser.add_argument("--only", nargs="*", default=[], help="probe names to run (default: all)")
    args = parser.parse_args()
    apps = (
        f"[{{id: {API_ID}, secret_sha256: {hash_secret(API_SECRET)}}}, "
        f"{{id: ops, secret_sha256: {hash_secret('ops-secret')}, scopes: [control]}}]"
    )
    overrides = {
        "MEDIAGW_ASR__ENABLED": "false",
        "MEDIAGW_AUTH__APPS": apps,
        "MEDIAGW_AUTH__REQUESTS_PER_SECOND": "0",
        "MEDIAGW_SERVER__ALLOWED_HOSTS": "[127.0.0.1]",
        "MEDIAGW_AUDIOHOOK__API_KEYS": f"[{{key: {AUDIOHOOK_KEY}, client_secret: '{AUDIOHOOK_SECRET}'}}]",
        "MEDIAGW_SIPREC__HOST": "127.0.0.1",
        **EXTRA_OVERRIDES,
    }
    with tempfile.TemporaryDirectory() as tmp:
        log_path, data_dir = Path(tmp) / "gateway.log", Path(tmp) / "data"
        with log_path.open("wb") as log:
            gateway = GatewayProcess(overrides, data_dir, log=log, log_level="INFO")
            try:
                target = Target(gateway, gateway.base_url, gateway.port, log_path, data_dir, args)
                results = asyncio.run(run_probes(target, set(args.only)))
            finally:
                gateway.stop()
    json.dump(results, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
