"""The issue's alert flow in a real browser (Debian's chromium, headless): an alert is raised by
beat's evaluation, emailed (Django's test outbox), shown on /dashboard/alerts, acknowledged by
clicking, and resolved when its condition clears; the page logs no JavaScript error and fits
390 px and 1280 px."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from sms.alerts import services
from sms.models import Alert, AlertRule, AlertState, Lane, RecordState
from tests.support.browser import js_errors, log_in, set_width, wait_for
from tests.support.factories import send_record


@pytest.mark.django_db(transaction=True)
def test_an_alert_is_raised_emailed_shown_acknowledged_and_resolved(browser, live_server, settings):
    from selenium.webdriver.common.by import By

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

    log_in(browser, live_server.url, next_path="/dashboard/alerts")
    card = wait_for(browser, lambda driver: driver.find_element(By.ID, f"alert-{alert.pk}"))
    assert card.get_attribute("data-state") == "open"
    assert alert.message in card.text

    for width in (390, 1280):
        set_width(browser, width)
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{width} px: the page is {overflow} px too wide"
        assert card.find_element(By.CSS_SELECTOR, "button.acknowledge").is_displayed()

    card.find_element(By.CSS_SELECTOR, "button.acknowledge").click()
    wait_for(
        browser,
        lambda driver: (
            driver.find_element(By.ID, f"alert-{alert.pk}").get_attribute("data-state") == "acknowledged"
        ),
    )
    assert "acknowledged by operator" in browser.find_element(By.ID, f"alert-{alert.pk}").text
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_by) == (AlertState.ACKNOWLEDGED, "operator")

    stuck.delete()
    assert services.evaluate().resolved == [alert.pk]
    assert len(mail.outbox) == 2 and "RESOLVED" in mail.outbox[1].subject
    browser.get(f"{live_server.url}/dashboard/alerts")
    card = wait_for(browser, lambda driver: driver.find_element(By.ID, f"alert-{alert.pk}"))
    assert card.get_attribute("data-state") == "resolved"
    assert not card.find_elements(By.CSS_SELECTOR, "button.acknowledge")
    assert js_errors(browser) == []
