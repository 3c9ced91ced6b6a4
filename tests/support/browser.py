"""Headless Chromium (Debian's chromium and chromedriver) for the console's browser tests and
`make screenshots`: a logged-in operator, the page at a given width, its JavaScript errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.factories import TEST_PASSWORD, UserFactory
from tests.support.waiting import scaled

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Collects uncaught errors and rejected promises from the first script on: read by ``js_errors``.
ERROR_COLLECTOR = """
window.__errors = [];
window.addEventListener("error", (event) => window.__errors.push(String(event.message || event.type)));
window.addEventListener("unhandledrejection", (event) => window.__errors.push(String(event.reason)));
"""


@pytest.fixture
def browser(tmp_path):
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip("no browser: `apt-get install chromium chromium-driver` (make test installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--window-size=1280,2200",
    ):
        options.add_argument(flag)
    # The page's console (errors, failed requests) for ``js_errors``.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(scaled(30))
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ERROR_COLLECTOR})
    yield driver
    driver.quit()


def log_in(driver, base_url: str, *, next_path: str = "/dashboard") -> None:
    """As a staff operator, through the admin's login form, landing on ``next_path``."""
    from selenium.webdriver.common.by import By

    UserFactory(username="operator", is_staff=True, is_superuser=True)
    driver.get(f"{base_url}/admin/login/")
    driver.find_element(By.NAME, "username").send_keys("operator")
    driver.find_element(By.NAME, "password").send_keys(TEST_PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(driver, lambda d: "/admin/login" not in d.current_url)
    driver.get(f"{base_url}{next_path}")


def wait_for(driver, condition, *, seconds: float = 30):
    """Until ``condition(driver)`` is truthy. An element gone or replaced while the condition
    reads it (a form's POST reloading the page, a panel redrawn) is asked again, not an error."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, scaled(seconds), ignored_exceptions=ignored).until(condition)


def wait_until_drawn(driver) -> None:
    """Until the console's panels have all drawn (dashboard.js sets body[data-ready])."""
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "yes")


def set_width(driver, width: int, *, height: int = 900) -> None:
    """The viewport ``width`` CSS pixels wide, as a phone has it under 600 px."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def js_errors(driver) -> list[str]:
    """Uncaught errors on the page and the console's error entries (failed loads included)."""
    collected = driver.execute_script("return window.__errors || []")
    # The admin's login page asks for /favicon.ico, which the service does not serve.
    logged = [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and "/favicon.ico " not in entry["message"]
    ]
    return [*collected, *logged]


def full_page_png(driver, path: Path, *, width: int) -> int:
    """The whole page at ``width`` into ``path`` (cropped to the page's height); its height."""
    set_width(driver, width)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    set_width(driver, width, height=height)
    # The layout may reflow at the new height (responsive charts): measure once more.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    set_width(driver, width, height=height)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(driver.get_screenshot_as_png())
    return height
