"""The one rule of time units (gm_server_notify.durations), read by the settings' duration lists
and by the verify-code windows alike."""

from __future__ import annotations

import pytest

from gm_server_notify import durations
from gm_server_notify.settings.environment import env_durations
from sms.sending.limits import parse_limits


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10), ("1m", 60), ("1.5m", 90), ("2h", 7200), ("1d", 86400), ("3", 3), ("0.2", 0.2)],
)
def test_a_number_with_an_optional_unit_is_seconds(text, seconds):
    assert durations.seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "1w", "ten", "1 hour"])
def test_anything_else_is_refused(text):
    with pytest.raises(ValueError):
        durations.seconds(text)


def test_the_settings_and_the_verify_limits_read_the_same_units(monkeypatch):
    monkeypatch.setenv("TEST_DURATIONS", "60s,1h,1d")
    windows = parse_limits("1/60s,5/1h,10/1d")
    assert [window.seconds for window in windows] == env_durations("TEST_DURATIONS", "") == [60, 3600, 86400]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.9, "0s"),
        (-3, "0s"),
        (42, "42s"),
        (60, "1m"),
        (95, "1m 35s"),
        (3601, "1h"),
        (9010, "2h 30m"),
        (86400 + 120, "1d"),
        (3 * 86400 + 4 * 3600 + 59, "3d 4h"),
    ],
)
def test_the_console_writes_an_age_in_the_same_units_down_to_the_next_one(seconds, text):
    assert durations.text(seconds) == text
    # What it writes reads back (unit by unit) as at most what it was given.
    assert sum(durations.seconds(part) for part in text.split()) <= max(0, seconds)
