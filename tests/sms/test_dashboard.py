"""The operators' dashboard (/dashboard): its "Lanes" panel, the age of each lane's oldest waiting
record and the bulk lane's senders waiting for their turn. Staff only."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import pytest
import redis
from django.utils import timezone

from sms.models import Lane, RecordState
from sms.sending import fairness
from tests.support.factories import UserFactory, send_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client):
    client.force_login(UserFactory(username="operator", is_staff=True))
    return client


@pytest.fixture
def instant():
    """The dashboard's clock, stopped, so the ages it writes are exact."""
    now = timezone.now()
    with mock.patch("django.utils.timezone.now", return_value=now):
        yield now


def queue(lane: Lane, *, queued_at, phone: str = "13112341234"):
    return send_record(receive_phone=phone, state=RecordState.QUEUED, lane=lane, queued_at=queued_at)


def shown(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    assert match, element_id
    return match.group(1).strip()


def test_the_lanes_panel_shows_the_age_of_each_lanes_oldest_waiting_record(operator_client, instant):
    queue(Lane.PRIORITY, queued_at=instant - timedelta(seconds=95))
    queue(Lane.PRIORITY, queued_at=instant - timedelta(seconds=5), phone="13112340000")
    queue(Lane.BULK, queued_at=instant - timedelta(hours=2, minutes=30, seconds=10))
    # Sent already: not waiting, whatever its age.
    send_record(state=RecordState.SUBMITTED, lane=Lane.TRANSACTIONAL, queued_at=instant - timedelta(days=2))

    response = operator_client.get("/dashboard")
    assert response.status_code == 200
    html = response.content.decode()
    assert shown(html, "lane-priority-age") == "1m 35s"
    assert shown(html, "lane-priority-waiting") == "2 waiting"
    assert shown(html, "lane-bulk-age") == "2h 30m"
    assert shown(html, "lane-bulk-waiting") == "1 waiting"
    assert shown(html, "lane-transactional-age") == "none waiting"
    assert shown(html, "lane-transactional-waiting") == "0 waiting"
    # The exact age is in the numbers the panel is drawn from.
    ages = {item["backlog"].lane: item["backlog"].age_seconds for item in response.context["lanes"]}
    assert ages == {"priority": 95, "transactional": 0, "bulk": 9010}


def test_a_lane_with_more_waiting_than_are_counted_says_so(operator_client, monkeypatch):
    from sms.console import selectors

    monkeypatch.setattr(selectors, "LANE_COUNT_CAP", 2)
    for index in range(3):
        queue(Lane.TRANSACTIONAL, queued_at=timezone.now(), phone=f"1311234000{index}")
    html = operator_client.get("/dashboard").content.decode()
    assert shown(html, "lane-transactional-waiting") == "2+ waiting"


def test_the_bulk_lanes_senders_are_listed_most_batches_first(operator_client, parking):
    for sender, batches in (("tenant:9", 1), ("tenant:7", 3), ("station:T7442", 2)):
        for index in range(batches):
            parking.park(sender=sender, payload={"record_ids": [index]})
    response = operator_client.get("/dashboard")
    html = response.content.decode()
    assert shown(html, "bulk-senders-count") == "3"
    assert "6 batches parked" in html
    assert response.context["bulk"].top == [("tenant:7", 3), ("station:T7442", 2), ("tenant:9", 1)]
    assert html.index("tenant:7") < html.index("station:T7442") < html.index("tenant:9")


def test_the_panel_says_when_redis_cannot_be_read(operator_client):
    with mock.patch.object(fairness, "waiting", side_effect=redis.ConnectionError("refused")):
        response = operator_client.get("/dashboard")
    assert response.status_code == 200
    assert 'id="bulk-senders-unknown"' in response.content.decode()


def test_the_dashboard_is_for_staff_only(client):
    queue(Lane.PRIORITY, queued_at=timezone.now())
    assert client.get("/dashboard").status_code == 302
    client.force_login(UserFactory(username="dcs"))
    response = client.get("/dashboard")
    assert response.status_code == 302
    assert "lane-priority-age" not in response.content.decode()
