"""The operators' console in a real browser: Debian's chromium, headless, through chromedriver.

A week of station and tenant traffic (tests/support/console_data.py) rolled up; the page must show
the same totals as /dashboard/api/summary, draw each chart with its series in the one colour map,
say so in words when a range is empty, fit a 390 px phone, raise no JavaScript error, and draw
Chinese text with a real font.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from sms.models import Lane, RecordState, SendRecord
from tests.support import console_data
from tests.support.browser import js_errors, log_in, set_width, wait_until_drawn

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
COLOURS = {"delivered": "#2e7d32", "failed": "#c62828", "unknown": "#9e9e9e", "other": "#1565c0"}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def week():
    return console_data.seed()


def number(text: str) -> int:
    """The count in a card's text ("1,234 records", "1 record")."""
    match = re.fullmatch(r"([\d,]+) (record|part|event)s?", text.strip())
    assert match, text
    return int(match.group(1).replace(",", ""))


def fetch_json(driver, path: str) -> dict:
    """``path`` fetched by the page itself: the operator's session, as the panels fetch it."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then((r) => r.json()).then(done, (e) => done({error: String(e)}));",
        path,
    )


def traces(driver, chart: str) -> list[dict]:
    """The Plotly traces drawn in ``chart``: name, colour and values."""
    return driver.execute_script(
        "const div = document.getElementById(arguments[0]);"
        "return (div.data || []).map((t) => ({name: t.name, colour: t.marker && t.marker.color,"
        " x: Array.from(t.x || []), y: Array.from(t.y || [])}));",
        chart,
    )


def test_the_console_shows_the_totals_of_the_json_and_draws_each_series_in_its_colour(
    browser, live_server, week
):
    console_data.seed_alerts()  # one open, one acknowledged, one resolved
    log_in(browser, live_server.url, next_path="/dashboard")
    wait_until_drawn(browser)
    assert browser.find_element(By.ID, "alerts-open").text.startswith("1 open alert ·")
    summary = fetch_json(browser, "/dashboard/api/summary")
    shown = {key: number(browser.find_element(By.ID, f"card-{key}").text) for key in COLOURS}
    by_state = {key: 0 for key in COLOURS}
    for counts in summary["channels"].values():
        for state, count in counts.items():
            by_state[state if state in COLOURS else "other"] += count
    assert shown == by_state
    # ... and both equal what was seeded, read from the seed's own table.
    seeded = {channel: sum(counts.values()) for channel, counts in week.items()}
    assert {k: v for k, v in summary["channels"]["station"].items() if v} == week["station"]
    assert {k: v for k, v in summary["channels"]["tenant"].items() if v} == week["tenant"]
    assert (
        number(browser.find_element(By.ID, "card-records").text) == summary["records"] == sum(seeded.values())
    )
    assert number(browser.find_element(By.ID, "card-station-records").text) == seeded["station"]
    assert number(browser.find_element(By.ID, "card-tenant-records").text) == seeded["tenant"]
    delivered, failed = by_state["delivered"], by_state["failed"]
    rate = browser.find_element(By.ID, "card-delivery-rate").text
    assert (
        rate == f"{100 * delivered / (delivered + failed):.1f} %" == f"{100 * summary['delivery_rate']:.1f} %"
    )

    assert number(browser.find_element(By.ID, "card-parts").text) == summary["parts"]
    # Every figure of the panels' cards says what it counts.
    figures = [
        b.text
        for b in browser.find_elements(By.CSS_SELECTOR, "#summary-cards b, #health-cards b, #money-cards b")
    ]
    with_unit = re.compile(r"-?[\d,]+(\.\d+)? (records?|parts?|reports?|events?|%|元)")
    assert len(figures) == 9 + 5 + 3 and [f for f in figures if not with_unit.fullmatch(f)] == []

    series = traces(browser, "chart-series")
    assert [(t["name"], t["colour"]) for t in series] == list(COLOURS.items())
    assert {t["name"]: sum(t["y"]) for t in series} == by_state
    assert len(series[0]["x"]) == 30  # the default range: 30 days, zero-filled
    channels = traces(browser, "chart-channels")
    assert [(t["name"], t["colour"]) for t in channels] == list(COLOURS.items())
    latency = traces(browser, "chart-latency")
    assert [t["name"] for t in latency] == ["p50", "p90", "p99"]
    assert sorted(latency[0]["x"]) == ["gateway", "sjroom", "tencent"]

    failures = browser.find_element(By.ID, "table-failures").text
    assert "E1" in failures and "UNDELIV" in failures
    example = browser.find_element(By.CSS_SELECTOR, "#table-failures a").get_attribute("href")
    record_id = int(re.search(r"/admin/sms/sendrecord/(\d+)/change/", example).group(1))
    assert SendRecord.objects.get(pk=record_id).state == RecordState.FAILED
    csv_links = {
        link.get_attribute("data-endpoint"): link.get_attribute("href")
        for link in browser.find_elements(By.CSS_SELECTOR, "a.csv")
    }
    assert set(csv_links) == {"summary", "series", "failures", "latency", "money", "balances", "top"}
    for endpoint, href in csv_links.items():
        assert href.startswith(f"{live_server.url}/dashboard/api/{endpoint}?") and href.endswith(
            "&format=csv"
        )
    assert js_errors(browser) == []
    OUTPUT.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(OUTPUT / "dashboard.png"))


def test_the_filters_reach_every_panel(browser, live_server, week):
    seeded = sum(
        count(day) for channel, owner, *_, count in console_data.DAILY if owner == "T0001" for day in range(7)
    )
    log_in(browser, live_server.url, next_path="/dashboard?station=T0001&grain=day")
    wait_until_drawn(browser)
    summary = fetch_json(browser, "/dashboard/api/summary?station=T0001")
    assert number(browser.find_element(By.ID, "card-records").text) == summary["records"] == seeded
    assert sum(sum(t["y"]) for t in traces(browser, "chart-series")) == seeded
    assert [row.text.split()[1] for row in browser.find_elements(By.CSS_SELECTOR, "#table-top tbody tr")] == [
        "T0001"
    ]
    # The region filter names its regions; the page keeps the choice.
    region = browser.find_element(By.CSS_SELECTOR, "select[name=region] option[value='+86']")
    assert region.text == "China (CN) +86"
    assert js_errors(browser) == []


def test_the_range_buttons_and_the_hourly_grain(browser, live_server, week):
    log_in(browser, live_server.url)
    wait_until_drawn(browser)
    browser.find_element(By.LINK_TEXT, "7 days").click()
    wait_until_drawn(browser)
    today = timezone.localdate()
    week_ago = (today - dt.timedelta(days=6)).isoformat()
    assert browser.find_element(By.ID, "range").text == f"{week_ago} – {today.isoformat()}"
    assert len(traces(browser, "chart-series")[0]["x"]) == 7
    assert number(browser.find_element(By.ID, "card-records").text) == sum(
        sum(c.values()) for c in week.values()
    )
    browser.get(f"{live_server.url}/dashboard?from={week_ago}&to={today.isoformat()}&grain=hour")
    wait_until_drawn(browser)
    hourly = traces(browser, "chart-series")
    assert len(hourly[0]["x"]) == 7 * 24
    assert sum(sum(t["y"]) for t in hourly) == sum(sum(c.values()) for c in week.values())
    # Longer ranges have no hourly grain: their buttons ask for days.
    assert "grain=day" in browser.find_element(By.LINK_TEXT, "30 days").get_attribute("href")
    assert "grain=hour" in browser.find_element(By.LINK_TEXT, "today").get_attribute("href")
    assert js_errors(browser) == []


def test_an_empty_range_says_so_in_words_instead_of_drawing_empty_axes(browser, live_server, week):
    log_in(browser, live_server.url, next_path="/dashboard?from=2020-01-01&to=2020-01-07")
    wait_until_drawn(browser)
    words = browser.find_element(By.ID, "empty-range")
    assert (
        words.is_displayed()
        and words.text == "No messages were sent from 2020-01-01 to 2020-01-07 with these filters."
    )
    assert browser.find_element(By.ID, "series-empty").text == "No messages in this range."
    for chart in ("chart-series", "chart-channels", "chart-latency"):
        assert not browser.find_elements(By.CSS_SELECTOR, f"#{chart} svg.main-svg"), chart
    assert browser.find_element(By.ID, "table-failures-empty").is_displayed()
    assert js_errors(browser) == []


def test_the_console_fits_a_390_px_phone(browser, live_server, week):
    set_width(browser, 390)
    log_in(browser, live_server.url)
    wait_until_drawn(browser)
    assert browser.execute_script("return window.innerWidth") == 390
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    assert traces(browser, "chart-series")  # drawn at this width too
    assert js_errors(browser) == []


def test_chinese_text_is_drawn_with_a_font_not_as_boxes(browser, live_server, week):
    log_in(browser, live_server.url)
    wait_until_drawn(browser)
    assert console_data.CJK_TENANT in browser.find_element(By.ID, "table-top").text
    # Two different characters in the page's own font: a missing font draws both as the same box.
    glyphs = browser.execute_script(
        """
        const font = "32px " + getComputedStyle(document.body).fontFamily;
        const draw = (text) => {
          const canvas = document.createElement("canvas");
          canvas.width = canvas.height = 40;
          const context = canvas.getContext("2d");
          context.font = font;
          context.fillText(text, 2, 34);
          return Array.from(context.getImageData(0, 0, 40, 40).data.filter((_, i) => i % 4 === 3));
        };
        const [one, two] = [draw("采"), draw("购")];
        return {inked: one.filter((a) => a > 0).length, differ: one.some((a, i) => a !== two[i])};
        """
    )
    assert glyphs["inked"] > 20, "nothing drawn"
    assert glyphs["differ"], (
        "both characters drew the same shape: no CJK font (apt-get install fonts-noto-cjk)"
    )


def test_the_queue_panels_are_read_live(browser, live_server):
    SendRecord.objects.create(
        station_id="T7442",
        receive_phone="13100009999",
        phone_e164="+8613100009999",
        business_type=2,
        content="x",
        segments=1,
        state=RecordState.QUEUED,
        lane=Lane.BULK,
        queued_at=timezone.now() - dt.timedelta(hours=2, minutes=30),
    )
    log_in(browser, live_server.url)
    wait_until_drawn(browser)
    assert re.fullmatch(r"2h 3\dm", browser.find_element(By.ID, "lane-bulk-age").text)
    assert browser.find_element(By.ID, "lane-transactional-age").text == "none waiting"
    assert browser.find_element(By.ID, "alerts-none").text == "No open alerts. all alerts"
    assert js_errors(browser) == []


@pytest.mark.django_db
def test_dashboard_is_for_staff_only(client, tenant):
    assert client.get("/dashboard").status_code == 302
    client.force_login(tenant)
    assert client.get("/dashboard").status_code == 302
