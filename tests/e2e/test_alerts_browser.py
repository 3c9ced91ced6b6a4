"""The issue's alert flow in a real browser (Debian's chromium, headless): an alert is raised by
beat's evaluation, emailed (Django's test outbox), shown on /dashboard/alerts, acknowledged by
clicking, and resolved when its condition clears; the page logs no JavaScript error and fits
390 px and 1280 px."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from django.core import mail
from django.utils import timezone

from sms.alerts import services
from sms.models import Alert, AlertRule, AlertState, Lane, RecordState
from tests.support.factories import TEST_PASSWORD, UserFactory, send_record
from tests.support.waiting import scaled

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path):
    """As tests/e2e/test_dashboard_browser.py's, keeping the console's log."""
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
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(scaled(30))
    yield driver
    driver.quit()


def console_errors(browser) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.mark.django_db(transaction=True)
def test_an_alert_is_raised_emailed_shown_acknowledged_and_resolved(browser, live_server, settings):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    settings.SMS_ALERT_EMAILS = ["ops@gm.example"]
    settings.SMS_ALERT_WEBHOOK_URL = ""
    settings.SMS_BALANCE_PROVIDERS = []
    stuck = send_record(
        state=RecordState.QUEUED, lane=Lane.PRIORITY, queued_at=timezone.now() - dt.timedelta(minutes=2)
    )
    evaluation = services.evaluate()
    [alert] = Alert.objects.filter(rule=AlertRule.QUEUE_AGE)
    assert evaluation.opened == [alert.pk]
    [email] = mail.outbox
    assert email.to == ["ops@gm.example"] and alert.message in email.body

    UserFactory(username="operator", is_staff=True)
    browser.get(f"{live_server.url}/admin/login/?next=/dashboard/alerts")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys(TEST_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait = WebDriverWait(browser, scaled(20))
    wait.until(lambda driver: driver.find_elements(By.ID, f"alert-{alert.pk}"))
    browser.get_log("browser")  # the admin's login page asks for a favicon it lacks: not this page's
    browser.get(f"{live_server.url}/dashboard/alerts")
    card = wait.until(lambda driver: driver.find_element(By.ID, f"alert-{alert.pk}"))
    assert card.get_attribute("data-state") == "open"
    assert alert.message in card.text

    for width in (390, 1280):
        browser.set_window_size(width, 900)
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{width} px: the page is {overflow} px too wide"
        assert card.find_element(By.CSS_SELECTOR, "button.acknowledge").is_displayed()

    card.find_element(By.CSS_SELECTOR, "button.acknowledge").click()
    wait.until(
        lambda driver: (
            driver.find_element(By.ID, f"alert-{alert.pk}").get_attribute("data-state") == "acknowledged"
        )
    )
    assert "acknowledged by operator" in browser.find_element(By.ID, f"alert-{alert.pk}").text
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_by) == (AlertState.ACKNOWLEDGED, "operator")

    stuck.delete()
    assert services.evaluate().resolved == [alert.pk]
    assert len(mail.outbox) == 2 and "RESOLVED" in mail.outbox[1].subject
    browser.get(f"{live_server.url}/dashboard/alerts")
    card = wait.until(lambda driver: driver.find_element(By.ID, f"alert-{alert.pk}"))
    assert card.get_attribute("data-state") == "resolved"
    assert not card.find_elements(By.CSS_SELECTOR, "button.acknowledge")
    assert console_errors(browser) == []
