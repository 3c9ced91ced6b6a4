"""Every console page at 1280 px and 390 px over a seeded week of traffic: drawn without a
JavaScript error, no wider than the screen, saved as PNG.

`make screenshots` runs this with SCREENSHOTS_DIR=docs/images (the README and docs/operations.md
show them); otherwise the PNGs go to test-output/screenshots/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.urls import reverse

from tests.support import console_data
from tests.support.browser import full_page_png, js_errors, log_in, set_width, wait_for, wait_until_drawn

ROOT = Path(__file__).resolve().parents[2]
WIDTHS = (1280, 390)


def pages() -> list[tuple[str, str, bool]]:
    """(name, path, drawn by dashboard.js) of every console page there is."""
    return [
        ("dashboard", reverse("dashboard"), True),
        ("reconciliation", reverse("billing-reconciliation"), False),
        ("alerts", reverse("alerts"), False),
        ("admin", reverse("admin:index"), False),
    ]


def output_dir() -> Path:
    configured = os.environ.get("SCREENSHOTS_DIR")
    return (ROOT / configured) if configured else ROOT / "test-output" / "screenshots"


@pytest.mark.django_db(transaction=True)
def test_every_console_page_is_drawn_at_both_widths(browser, live_server):
    console_data.seed()
    console_data.seed_alerts()
    log_in(browser, live_server.url, next_path="/admin/")
    saved = []
    for name, path, scripted in pages():
        for width in WIDTHS:
            set_width(browser, width)
            browser.get(f"{live_server.url}{path}")
            wait_for(browser, lambda d: d.execute_script("return document.readyState") == "complete")
            if scripted:
                wait_until_drawn(browser)
            assert browser.execute_script("return document.documentElement.scrollWidth") <= width, (
                name,
                width,
            )
            assert js_errors(browser) == [], (name, width)
            target = output_dir() / f"{name}-{width}.png"
            height = full_page_png(browser, target, width=width)
            assert target.stat().st_size > 5_000 and height > 300
            saved.append(target.name)
    assert len(saved) == 2 * len(pages())
