"""The ops console in Debian's chromium against the running gateway: log in, a Twilio call appears live, start it
from its page, its transcripts arrive with the card number masked, stop it and read the summary; a start while a
SIPREC BYE is being processed shows 409-203; the health plots have data points. Screenshots go to a temporary
directory (CI artifacts)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import aiohttp
import numpy as np
import pytest

from mediagw.core.registry import change
from mediagw.simulators.siprec_call import SiprecCall
from mediagw.simulators.twilio import call_sid, media_stream_url, play_call, stereo_tracks
from tests.browser import Browser
from tests.e2e.masking import CARD, MASK, assert_masked, secret_run
from tests.gateway import API_ID, API_SECRET, GatewayThread
from tests.waits import eventually

pytestmark = pytest.mark.e2e
FROM_MS = 22_000  # the travel call from the agent's "Would you like to pay by card?" on


def log_in(browser: Browser, gateway: GatewayThread) -> None:
    driver = browser.driver
    driver.get(f"{gateway.base_url}/console/")
    browser.wait_for(lambda d: d.find_elements("id", "login-form"), what="the login form")
    browser.screenshot("console-login")
    driver.find_element("id", "app-id").send_keys(API_ID)
    driver.find_element("id", "secret").send_keys(API_SECRET)
    driver.find_element("id", "login-button").click()
    browser.wait_for(lambda d: d.find_elements("id", "calls-table"), what="the call list")
    browser.wait_for(lambda d: d.find_element("id", "feed-status").text == "Live.", what="the live feed")


def row_of(browser: Browser, key: str) -> Any:
    rows = browser.driver.find_elements("css selector", f'#calls-table tr[data-key="{key}"]')
    return rows[0] if rows else None


def transcripts(browser: Browser) -> list[tuple[str, str]]:
    items = browser.driver.find_elements("css selector", "#transcripts li.transcript")
    return [(item.get_attribute("data-role"), item.find_element("css selector", ".text").text) for item in items]


async def test_a_twilio_call_live_started_transcribed_masked_and_stopped(
    gateway: GatewayThread, browser: Browser, call_audio: Any
) -> None:
    log_in(browser, gateway)
    channels, script = call_audio["travel"]
    tracks = {track: samples[FROM_MS * 8 :] for track, samples in stereo_tracks(channels, script["channels"]).items()}
    sid = call_sid()
    key = f"twilio/{sid}"

    def start_from_the_page() -> None:  # a blocking Selenium session: run off the simulator's loop
        row = browser.wait_for(lambda d: row_of(browser, key), what="the call's row, live")
        assert row.find_element("css selector", 'td[data-role="customer"]').text == "connected"
        browser.screenshot("console-calls")
        row.find_element("css selector", "a.guid").click()
        browser.wait_for(lambda d: d.find_element("id", "call-started").text.startswith("Not"), what="call page")
        browser.driver.find_element("id", "customer-id").send_keys("cust-1")
        browser.driver.find_element("id", "agent-id").send_keys("agent-1")
        browser.driver.find_element("id", "start-button").click()
        answer = browser.wait_for(lambda d: d.find_elements("id", "control-answer"), what="start's answer")[0]
        assert answer.text.startswith("Start: OK"), answer.text

    async def started() -> None:
        await asyncio.to_thread(start_from_the_page)
        record = await eventually(lambda: gateway.record("twilio", sid), lambda r: r is not None and r.started)
        assert record is not None

    async with aiohttp.ClientSession() as session:
        url = await media_stream_url(session, gateway.base_url, API_ID, API_SECRET)
        # paced (4x real time), not flat out: the simulator shares this process's GIL with the gateway's loop
        await play_call(session, url, tracks, sid, speed=4.0, on_started=started, started_after_ms=500)
    expected = [u for u in script["utterances"] if u["start"] > FROM_MS]
    shown = browser.wait_for(
        lambda d: len(transcripts(browser)) >= len(expected) and transcripts(browser),
        timeout_s=120,
        what="every utterance's transcript",
    )
    card = next(text for role, text in shown if role == "customer" and MASK in text)
    assert_masked(card)
    assert all(secret_run(text, CARD) <= 4 for _, text in shown), "an unredacted card reached the browser"
    assert CARD[:8] not in browser.driver.page_source
    budgets = browser.driver.find_elements("css selector", "#transcripts .budget[data-total-ms]")
    assert len(budgets) == len(shown) and all(int(b.get_attribute("data-total-ms")) > 0 for b in budgets)
    browser.screenshot("console-call")
    browser.driver.find_element("id", "stop-button").click()
    summary = browser.wait_for(lambda d: d.find_elements("id", "summary-table"), what="the stop summary")[0]
    counts = [int(cell.text) for cell in summary.find_elements("css selector", "td.transcripts")]
    assert sum(counts) == len(shown)
    browser.screenshot("console-stopped")
    assert not browser.console_errors()


async def test_a_start_during_a_siprec_bye_shows_409_203(gateway: GatewayThread, browser: Browser) -> None:
    log_in(browser, gateway)
    guid = "00002542391662063177"
    async with SiprecCall(("127.0.0.1", gateway.siprec.port), guid) as call:
        assert await call.invite() == 200
        await call.play(np.zeros((8000, 2), dtype=np.int16), speed=8.0)
        # a BYE's flush marks the record ending until its last utterances are out (core/node.py detach); held
        # here, as the real one lasts only as long as the flush
        gateway.run(change(gateway.services.registry, "siprec", guid, lambda r: replace(r, ending=True)))
        browser.driver.get(f"{gateway.base_url}/console/#/call/siprec%2F{guid}")
        browser.wait_for(lambda d: "media ending" in d.find_element("id", "call-started").text, what="ending")
        browser.driver.find_element("id", "customer-id").send_keys("cust-1")
        browser.driver.find_element("id", "agent-id").send_keys("agent-1")
        browser.driver.find_element("id", "start-button").click()
        error = browser.wait_for(lambda d: d.find_elements("id", "control-error"), what="the refusal")[0]
        assert error.get_attribute("data-code") == "409-203" and error.text.startswith("409-203")
        browser.screenshot("console-409-203")
        gateway.run(change(gateway.services.registry, "siprec", guid, lambda r: replace(r, ending=False)))
        assert await call.bye() == 200


async def test_the_health_page_plots_have_data_points(gateway_factory: Any, browser: Browser) -> None:
    gateway = gateway_factory(console={"sample_interval_s": 0.2})
    metrics = gateway.services.metrics
    metrics.open_streams.labels("twilio").set(3)
    metrics.errors.labels("4080").inc()
    log_in(browser, gateway)
    browser.driver.find_element("id", "nav-health").click()

    def points(name: str) -> int:
        figures = browser.driver.find_elements("css selector", f'figure.plot[data-name="{name}"]')
        return int(figures[0].get_attribute("data-points")) if figures else 0

    for name in ("open_streams", "utterances", "asr_queue", "errors"):
        browser.wait_for(lambda d, name=name: points(name) >= 2, what=f"points in {name}")
    circles = browser.driver.find_elements("css selector", 'figure.plot[data-name="open_streams"] circle.point')
    assert len(circles) >= 2
    browser.screenshot("console-health")
    assert not browser.console_errors()


async def test_the_console_works_from_the_keyboard_alone(gateway: GatewayThread, browser: Browser) -> None:
    from selenium.webdriver.common.keys import Keys

    driver = browser.driver
    driver.get(f"{gateway.base_url}/console/")
    browser.wait_for(lambda d: d.switch_to.active_element.get_attribute("id") == "app-id", what="focus on the app id")
    driver.switch_to.active_element.send_keys(API_ID, Keys.TAB)
    assert driver.switch_to.active_element.get_attribute("id") == "secret"
    driver.switch_to.active_element.send_keys(API_SECRET, Keys.ENTER)
    browser.wait_for(lambda d: d.find_element("id", "feed-status").text == "Live.", what="the live list")
    guid = "00002542391662063178"
    gateway.attach("siprec", guid)
    browser.wait_for(lambda d: row_of(browser, f"siprec/{guid}"), what="the call's row")
    for _ in range(40):  # Tab through the page until the call's link has the focus
        if driver.switch_to.active_element.text == guid:
            break
        driver.switch_to.active_element.send_keys(Keys.TAB)
    assert driver.switch_to.active_element.text == guid
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    browser.wait_for(lambda d: d.find_elements("id", "start-button"), what="the call's page")
