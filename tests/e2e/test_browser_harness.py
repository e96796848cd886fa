"""The browser harness itself: chromium loads a page the gateway serves and runs its script."""

from __future__ import annotations

from tests.browser import Browser
from tests.gateway import GatewayThread


def test_chromium_renders_a_gateway_page_and_runs_script(gateway: GatewayThread, browser: Browser) -> None:
    browser.driver.get(f"{gateway.base_url}/v1/health")
    text = browser.wait_for(lambda d: d.find_element("tag name", "body").text, what="the health body")
    assert "SUCCESS" in text or "status" in text
    assert browser.driver.execute_script("return 6 * 7") == 42
    assert browser.screenshot("health").stat().st_size > 0
