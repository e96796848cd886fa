"""The sample page in a real chromium: its fake microphone plays a committed speech clip through WHIP, and the
transcript arrives in GET messages and on the page (over the data channel)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mediagw.evaluation import word_error_rate
from tests.browser import Browser, browser_session
from tests.e2e.api import messages
from tests.gateway import API_SECRET, GatewayThread
from tests.waits import eventually

pytestmark = pytest.mark.e2e
MIC = Path(__file__).resolve().parents[1] / "fixtures" / "webrtc" / "mic.wav"  # flite, 8 kHz, 2.5 s silence first
SAID = "I would like to check the balance of my account please."


@pytest.fixture
def mic_browser(chromium_binaries: tuple[str, str]) -> Iterator[Browser]:
    flags = (
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={MIC}%noloop",
        "--allow-loopback-in-peer-connection",  # the gateway's only candidate is 127.0.0.1 (loopback only)
    )
    yield from browser_session(chromium_binaries, flags)


def page_transcripts(browser: Browser) -> list[tuple[str, str]]:
    items = browser.driver.find_elements("css selector", "#transcripts li")
    return [(item.get_attribute("data-role"), item.find_element("css selector", ".text").text) for item in items]


async def test_the_sample_page_transcribes_the_microphone(gateway_factory: Any, mic_browser: Browser) -> None:
    gateway: GatewayThread = gateway_factory(webrtc={"ice_addresses": ("127.0.0.1",)})
    driver = mic_browser.driver
    driver.get(f"{gateway.base_url}/mg-webrtc/demo/")
    driver.find_element("id", "apiSecret").send_keys(API_SECRET)
    driver.find_element("id", "start").click()
    status = mic_browser.wait_for(
        lambda d: (text := d.find_element("id", "status").text).startswith(("transcribing", "Error", "/")) and text,
        timeout_s=30,
        what="the call started",
    )
    assert status.startswith("transcribing"), (status, mic_browser.console_errors())
    guid = driver.find_element("tag name", "body").get_attribute("data-guid")
    shown = mic_browser.wait_for(lambda d: page_transcripts(mic_browser), timeout_s=60, what="a transcript shown")
    mic_browser.screenshot("webrtc-demo")
    async with aiohttp.ClientSession() as session:
        stored = await eventually(lambda: messages(session, gateway, guid), what="the transcript stored")
    assert shown[0][0] == "customer" and stored[0]["sender"]["role"] == "customer"
    assert word_error_rate([SAID], [stored[0]["text"]]) <= 0.25
    assert word_error_rate([SAID], [shown[0][1]]) <= 0.25
    driver.find_element("id", "stop").click()
    mic_browser.wait_for(lambda d: d.find_element("id", "status").text == "stopped", what="stopped")
    sessions = gateway.services.metrics.open_streams.labels("webrtc")
    await eventually(lambda: sessions._value.get(), lambda n: n == 0, what="the WHIP session closed")
