"""README's console screenshots, taken from a real gateway: `python -m tools.console_screenshots [DIR]`.

Starts a gateway on a loopback port with the bundled model, plays two sample calls through the Twilio simulator
(one started from the console's own call page), and saves the login, live calls, call and health pages as PNGs
(default: docs/console/). Needs Debian's chromium and chromium-driver, as the e2e tests do.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from mediagw.app import load_recognizer
from mediagw.config import load_config
from mediagw.offline import read_channels
from mediagw.simulators.twilio import call_sid, media_stream_url, play_call, stereo_tracks
from tests.browser import Browser, browser_binaries, start_browser
from tests.e2e.api import control
from tests.gateway import API_ID, API_SECRET, GatewayThread, make_config

CALLS = Path(__file__).resolve().parent.parent / "samples" / "calls"
SPEED = 1.5  # faster than real time: long enough to be seen live, short to run


def tracks(name: str) -> dict[str, Any]:
    script = json.loads((CALLS / f"{name}.json").read_text())
    return stereo_tracks(read_channels(CALLS / f"{name}.flac"), script["channels"])


def log_in(browser: Browser, base: str) -> None:
    browser.driver.get(f"{base}/console/")
    browser.wait_for(lambda d: d.find_elements("id", "login-form"), what="login form")
    browser.driver.find_element("id", "app-id").send_keys(API_ID)
    browser.screenshot("login")
    browser.driver.find_element("id", "secret").send_keys(API_SECRET)
    browser.driver.find_element("id", "login-button").click()
    browser.wait_for(lambda d: d.find_element("id", "feed-status").text == "Live.", what="live feed")


async def take(directory: Path) -> None:
    binaries = browser_binaries()
    if binaries is None:
        raise SystemExit("chromium or chromedriver is missing (apt-get install chromium chromium-driver)")
    data = Path(tempfile.mkdtemp(prefix="mediagw-shots-"))
    config = make_config(data, console={"sample_interval_s": 1.0})
    gateway = GatewayThread(config, load_recognizer(load_config(environ={}))).start()
    browser = start_browser(binaries, screenshots=directory, width=1280)
    base = gateway.base_url
    try:
        log_in(browser, base)
        travel, billing, waiting = call_sid(), call_sid(), call_sid()
        async with aiohttp.ClientSession() as session:
            url = await media_stream_url(session, base, API_ID, API_SECRET)

            async def start(sid: str) -> None:
                body = {"namespace": "twilio", "guid": sid, "customerId": "cust-1", "agentId": "agent-7"}
                await control(session, gateway, "start", body)

            async def show_call() -> None:  # the call's page from its start, then the list while calls go on
                await asyncio.sleep(0.5)
                browser.driver.get(f"{base}/console/#/call/twilio%2F{travel}")
                await asyncio.sleep(15)
                await asyncio.to_thread(browser.screenshot, "call")
                browser.driver.get(f"{base}/console/#/calls")
                await asyncio.sleep(1)
                await asyncio.to_thread(browser.screenshot, "calls")

            await asyncio.gather(
                play_call(session, url, tracks("travel"), travel, speed=SPEED, on_started=lambda: start(travel)),
                play_call(session, url, tracks("billing"), billing, speed=SPEED, on_started=lambda: start(billing)),
                play_call(session, url, tracks("billing"), waiting, speed=SPEED),  # never started
                show_call(),
            )
        browser.driver.get(f"{base}/console/#/health")
        browser.wait_for(lambda d: d.find_elements("css selector", "figure.plot"), what="plots")
        browser.driver.set_window_size(1280, 1000)
        await asyncio.sleep(2)
        browser.screenshot("health")
    finally:
        browser.quit()
        gateway.stop()


def main() -> None:
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "docs" / "console"
    directory.mkdir(parents=True, exist_ok=True)
    asyncio.run(take(directory))
    for path in sorted(directory.glob("*.png")):
        print(f"{path} {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
