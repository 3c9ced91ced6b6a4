"""The operators' dashboard in a real browser: Debian's chromium, headless, through chromedriver."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from sms.models import DailyStatistics, Lane, RecordState, SendRecord
from sms.sending import fairness
from tests.conftest import SERVICE_TOKEN
from tests.support.factories import TEST_PASSWORD, UserFactory
from tests.support.waiting import scaled

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


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
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--window-size=1280,2200",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(scaled(30))
    yield driver
    driver.quit()


@pytest.fixture
def data(db):
    today = timezone.localdate()
    for offset, (total, success, failed) in enumerate(
        [(120, 100, 15), (80, 70, 10), (60, 50, 5), (40, 38, 2)]
    ):
        DailyStatistics.objects.create(
            station_id="T7442",
            send_date=today - dt.timedelta(days=offset * 3),
            total_send_nums=total,
            success_send_nums=success,
            send_failed_nums=failed,
        )
    DailyStatistics.objects.create(
        station_id="T0001", send_date=today, total_send_nums=30, success_send_nums=30
    )
    for provider, state, count in (
        ("tencent", RecordState.DELIVERED, 9),
        ("tencent", RecordState.FAILED, 1),
        ("gateway", RecordState.DELIVERED, 4),
    ):
        for index in range(count):
            SendRecord.objects.create(
                station_id="T7442",
                receive_phone=f"1310000{index:04d}",
                phone_e164=f"+861310000{index:04d}",
                business_type=0,
                content="x",
                segments=1,
                state=state,
                status=1 if state == RecordState.DELIVERED else 2,
                provider=provider,
            )
    # The lanes panel: a verify code waiting 40 s, a bulk message 2 h 30 m.
    for lane, waited in (
        (Lane.PRIORITY, dt.timedelta(seconds=40)),
        (Lane.BULK, dt.timedelta(hours=2, minutes=30)),
    ):
        SendRecord.objects.create(
            station_id="T7442",
            receive_phone="13100009999",
            phone_e164="+8613100009999",
            business_type=2,
            content="x",
            segments=1,
            state=RecordState.QUEUED,
            lane=lane,
            queued_at=timezone.now() - waited,
        )
    return today


@pytest.fixture
def parked():
    """Two senders' bulk batches parked for their turn (none without Redis: the panel says 0)."""
    fairness.purge()
    parked = {}
    for sender, batches in (("tenant:7", 3), ("tenant:9", 1)):
        for index in range(batches):
            if fairness.park(sender=sender, payload={"record_ids": [index]}):
                parked[sender] = parked.get(sender, 0) + 1
    yield parked
    fairness.purge()


@pytest.mark.django_db(transaction=True)
def test_dashboard_draws_every_chart_and_its_totals_equal_the_api(browser, live_server, data, parked):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    UserFactory(username="operator", is_staff=True)
    browser.get(f"{live_server.url}/admin/login/?next=/dashboard%3Fstation_id%3DT7442")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys(TEST_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait = WebDriverWait(browser, 20)
    for chart in ("chart-overall", "chart-station", "chart-providers", "chart-top"):
        # Plotly drew its SVG and at least one trace (a bar or a line) into it.
        wait.until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, f"#{chart} svg.main-svg"))
        )
        wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, f"#{chart} g.trace")))

    start = (data - dt.timedelta(days=29)).isoformat()
    api = requests.get(
        f"{live_server.url}/sms/data_center/get",
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=10,
        params={"station_id": "T7442", "start_date": start, "end_date": data.isoformat()},
    ).json()["data"]
    shown = {
        key: int(browser.find_element(By.ID, f"station-{key}").text)
        for key in ("total", "delivered", "failed")
    }
    assert (
        shown
        == {
            "total": sum(row["total_send_nums"] for row in api),
            "delivered": sum(row["success_send_nums"] for row in api),
            "failed": sum(row["send_failed_nums"] for row in api),
        }
        == {"total": 300, "delivered": 258, "failed": 32}
    )
    assert int(browser.find_element(By.ID, "overall-total").text) == 330
    # Ages go on growing while the page loads: minutes of slack, not seconds.
    assert re.fullmatch(r"(4\d|5\d)s|\dm( \d+s)?", browser.find_element(By.ID, "lane-priority-age").text)
    assert re.fullmatch(r"2h 3\dm", browser.find_element(By.ID, "lane-bulk-age").text)
    assert browser.find_element(By.ID, "lane-transactional-age").text == "none waiting"
    assert int(browser.find_element(By.ID, "bulk-senders-count").text) == len(parked)
    OUTPUT.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(OUTPUT / "dashboard.png"))


@pytest.mark.django_db
def test_dashboard_is_for_staff_only(client, tenant):
    assert client.get("/dashboard").status_code == 302
    client.force_login(tenant)
    assert client.get("/dashboard").status_code == 302
