"""Marketing hours (sms.marketing.hours): when marketing may go out and when a held batch is released."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured

from gm_server_notify.settings.environment import env_hours
from sms.marketing import hours

CHINA = ZoneInfo("Asia/Shanghai")


def china(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, second, tzinfo=CHINA)


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (china(2, 7, 59, 59), False),
        (china(2, 8, 0), True),
        (china(2, 12, 30), True),
        (china(2, 20, 59, 59), True),
        (china(2, 21, 0), False),
        (china(2, 23, 0), False),
    ],
)
def test_the_default_hours_are_eight_to_twenty_one_china_time(moment, inside):
    assert hours.in_marketing_hours(moment) is inside


def test_a_batch_accepted_at_ten_at_night_waits_for_eight_the_next_morning():
    assert hours.next_opening(china(2, 22, 0)) == china(3, 8, 0)
    assert hours.next_opening(china(3, 1, 30)) == china(3, 8, 0)
    assert hours.next_opening(china(3, 7, 59, 59)) == china(3, 8, 0)


def test_within_the_hours_the_opening_is_now():
    assert hours.next_opening(china(2, 9, 15)) == china(2, 9, 15)


def test_a_window_may_span_midnight(settings):
    settings.SMS_MARKETING_HOURS = (22 * 3600, 6 * 3600)
    assert hours.in_marketing_hours(china(2, 23, 0)) and hours.in_marketing_hours(china(3, 5, 59))
    assert not hours.in_marketing_hours(china(3, 6, 0))
    assert hours.next_opening(china(3, 12, 0)) == china(3, 22, 0)


def test_no_window_means_always(settings):
    settings.SMS_MARKETING_HOURS = None
    assert hours.in_marketing_hours(china(2, 3, 0))


def test_release_time_of_a_send_at_and_of_marketing():
    now = china(2, 10, 0)
    assert hours.release_time(now=now, send_at=None, marketing=False) is None
    assert hours.release_time(now=now, send_at=None, marketing=True) is None
    assert hours.release_time(now=now, send_at=china(2, 9, 0), marketing=False) is None  # past: at once
    assert hours.release_time(now=now, send_at=china(2, 23, 0), marketing=False) == china(2, 23, 0)
    # A marketing send_at outside the hours waits on for the next opening.
    assert hours.release_time(now=now, send_at=china(2, 23, 0), marketing=True) == china(3, 8, 0)
    assert hours.release_time(now=china(2, 22, 0), send_at=None, marketing=True) == china(3, 8, 0)


@pytest.mark.parametrize(
    ("raw", "window"),
    [("08:00-21:00", (28800, 75600)), ("09:30:15-24:00", (34215, 86400)), ("", None)],
)
def test_the_setting_reads_hours_minutes_and_seconds(monkeypatch, raw, window):
    monkeypatch.setenv("SMS_MARKETING_HOURS", raw)
    assert env_hours("SMS_MARKETING_HOURS", "08:00-21:00") == window


@pytest.mark.parametrize("raw", ["8-21", "08:00", "25:00-26:00", "08:61-21:00", "09:00-09:00"])
def test_a_malformed_setting_stops_the_start(monkeypatch, raw):
    monkeypatch.setenv("SMS_MARKETING_HOURS", raw)
    with pytest.raises(ImproperlyConfigured):
        env_hours("SMS_MARKETING_HOURS", "08:00-21:00")
