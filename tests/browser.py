"""A real browser for the pages' e2e tests: Debian's headless `chromium` driven by `chromedriver` through Selenium.

Skipped only where either binary is absent (CI installs Debian's chromium and chromium-driver). Screenshots go to a
temporary directory kept after the run (`MEDIAGW_SCREENSHOTS` names another), as CI artifacts, never into the tree.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "/usr/bin/chromium")
DRIVER_CANDIDATES = ("chromedriver", "/usr/bin/chromedriver")


def _first_binary(candidates: Sequence[str]) -> str | None:
    for name in candidates:
        found = shutil.which(name) or (name if os.path.isabs(name) and os.access(name, os.X_OK) else None)
        if found:
            return found
    return None


def browser_binaries() -> tuple[str, str] | None:
    """(chromium, chromedriver), or None where either is missing."""
    chromium, driver = _first_binary(CHROMIUM_CANDIDATES), _first_binary(DRIVER_CANDIDATES)
    return (chromium, driver) if chromium and driver else None


def screenshot_dir() -> Path:
    configured = os.environ.get("MEDIAGW_SCREENSHOTS")
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return Path(tempfile.mkdtemp(prefix="mediagw-screenshots-"))


class Browser:
    """One headless chromium window. `driver` is Selenium's WebDriver; the helpers wait with deadlines."""

    def __init__(self, driver: Any, screenshots: Path) -> None:
        self.driver = driver
        self.screenshots = screenshots

    def screenshot(self, name: str) -> Path:
        path = self.screenshots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def wait_for(self, condition: Any, timeout_s: float = 30.0, what: str = "") -> Any:
        """Selenium's explicit wait: polls `condition(driver)` until truthy, or TimeoutException naming `what`."""
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout_s, poll_frequency=0.05).until(condition, message=what)

    def console_errors(self) -> list[str]:
        """The page's console errors so far (chromium's 'browser' log)."""
        return [entry["message"] for entry in self.driver.get_log("browser") if entry.get("level") == "SEVERE"]

    def quit(self) -> None:
        self.driver.quit()


def start_browser(
    binaries: tuple[str, str], extra_args: Sequence[str] = (), screenshots: Path | None = None, width: int = 1366
) -> Browser:
    """A headless chromium at a laptop's size, with `extra_args` (e.g. the fake media device flags)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = binaries
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={width},800")
    for argument in extra_args:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    return Browser(driver, screenshots or screenshot_dir())


def browser_session(binaries: tuple[str, str], extra_args: Sequence[str] = ()) -> Iterator[Browser]:
    """For fixtures: a browser that quits at the end, whatever the test did."""
    browser = start_browser(binaries, extra_args)
    try:
        yield browser
    finally:
        browser.quit()
