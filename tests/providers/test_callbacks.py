"""/providers/<name>/status and /providers/<name>/uplink, and real pushes from the simulator."""

import json
import threading

import pytest
import requests

from providers.gateway import GatewayAdapter
from providers.tencent import TencentAdapter
from sms.models import RecordState, SendRecord, Uplink
from tests.support.pushes import applied, apply_stored_pushes
from tests.support.waiting import poll, scaled

TOKEN = "test-callback-token"


def _record(provider: str, message_id: str, phone: str = "13100000001") -> SendRecord:
    return SendRecord.objects.create(
        station_id="T7442",
        receive_phone=phone,
        phone_e164=f"+86{phone}",
        business_type=0,
        content="【去采购】x",
        segments=1,
        state=RecordState.SUBMITTED,
        provider=provider,
        provider_message_id=message_id,
    )


@pytest.mark.django_db
def test_gateway_status_push_finishes_the_record(api_client):
    record = _record("gateway", "task-1:13100000001")
    body = {"sendId": "task-1", "mobile": "13100000001", "times": "2019-04-12 17:57:08", "status": "DELIVRD"}
    response = api_client.post(
        f"/providers/gateway/status?token={TOKEN}", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200
    apply_stored_pushes()
    record.refresh_from_db()
    assert record.state == RecordState.DELIVERED


@pytest.mark.django_db
def test_tencent_status_push_answers_tencent_ack(api_client):
    _record("tencent", "sid-1")
    body = [
        {
            "sid": "sid-1",
            "report_status": "SUCCESS",
            "errmsg": "DELIVRD",
            "mobile": "13100000001",
            "nationcode": "86",
        }
    ]
    response = api_client.post(
        f"/providers/tencent/status?token={TOKEN}", data=json.dumps(body), content_type="application/json"
    )
    assert response.json() == {"result": 0, "errmsg": "OK"}


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["tencent", "gateway"])
def test_uplink_push_is_stored(api_client, provider):
    body = (
        {
            "extend": "",
            "mobile": "13100000001",
            "nationcode": "86",
            "sign": "去采购",
            "text": "TD",
            "time": 1457336869,
        }
        if provider == "tencent"
        else {"mobile": "13100000001", "content": "TD", "times": "2019-04-12 17:57:08", "extNo": "10"}
    )
    response = api_client.post(
        f"/providers/{provider}/uplink?token={TOKEN}", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200
    apply_stored_pushes()
    stored = Uplink.objects.get()
    assert (stored.provider, stored.phone, stored.text) == (provider, "13100000001", "TD")


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["", "?token=wrong"])
def test_callbacks_require_the_token(api_client, query):
    response = api_client.post(
        f"/providers/gateway/status{query}", data="{}", content_type="application/json"
    )
    assert response.status_code == 401


@pytest.mark.django_db
def test_unknown_provider_is_404_and_malformed_body_is_400(api_client):
    assert (
        api_client.post(
            f"/providers/nobody/status?token={TOKEN}", data="{}", content_type="application/json"
        ).status_code
        == 404
    )
    assert (
        api_client.post(
            f"/providers/gateway/status?token={TOKEN}", data="nope", content_type="application/json"
        ).status_code
        == 400
    )
    assert (
        api_client.post(
            f"/providers/fw199/status?token={TOKEN}", data="{}", content_type="application/json"
        ).status_code
        == 400
    )


def _wait(predicate, timeout: float = 10.0) -> bool:
    return poll(predicate, timeout, interval=0.05)


@pytest.mark.django_db(transaction=True)
def test_simulator_pushes_gateway_reports_to_the_live_service(simulator, live_server):
    from providers.base import OutgoingMessage

    simulator.configure(
        push=True,
        push_targets={"gateway": {"status": f"{live_server.url}/providers/gateway/status?token={TOKEN}"}},
    )
    delivered, undelivered = (
        _record("gateway", "t1:13100000001"),
        _record("gateway", "t1:13100000004", "13100000004"),
    )
    GatewayAdapter().send(
        [
            OutgoingMessage(delivered.pk, "+8613100000001", "x"),
            OutgoingMessage(undelivered.pk, "+8613100000004", "x"),
        ],
        dispatch_id="t1",
    )
    assert _wait(
        lambda: applied(lambda: SendRecord.objects.filter(state__in=["delivered", "failed"]).count() == 2)
    )
    undelivered.refresh_from_db()
    assert (undelivered.state, undelivered.provider_code) == (RecordState.FAILED, "UNDELIV")


class _GatedPusher:
    """The simulator's pusher, its pushes held until ``open`` is set."""

    def __init__(self, pusher) -> None:
        self.pusher = pusher
        self.open = threading.Event()

    def submit(self, push):
        def gated():
            if not self.open.wait(scaled(30)):
                raise TimeoutError("the pushes were never let through")
            push()

        return self.pusher.submit(gated)


@pytest.mark.django_db(transaction=True)
def test_simulator_pushes_tencent_reports_to_sms_callback(simulator, live_server, monkeypatch):
    from providers.base import OutgoingMessage

    # The record can only be written once the send has named its sid, and the report may come
    # back before that (early reports: see the pipeline): the simulator's push is held until the
    # record exists, then follows by 300 ms, as a real one would.
    gate = _GatedPusher(simulator.state.pusher)
    monkeypatch.setattr(simulator.state, "pusher", gate)
    simulator.configure(
        push=True,
        report_delay_ms=300,
        push_targets={"tencent": {"status": f"{live_server.url}/sms/callback?token={TOKEN}"}},
    )
    [outcome] = TencentAdapter().send(
        [
            OutgoingMessage(
                1, "+8613100000001", "", template_id="1003", template_params=("1",), sign_name="去采购"
            )
        ],
        dispatch_id="b",
    )
    record = _record("tencent", outcome.provider_message_id)
    gate.open.set()
    assert _wait(lambda: applied(lambda: SendRecord.objects.get(pk=record.pk).state == RecordState.DELIVERED))


@pytest.mark.django_db(transaction=True)
def test_injected_uplink_is_pushed_to_the_live_service(simulator, live_server):
    simulator.configure(
        push=True,
        push_targets={"tencent": {"uplink": f"{live_server.url}/providers/tencent/uplink?token={TOKEN}"}},
    )
    answer = requests.post(
        f"{simulator.url}/_sim/uplink",
        json={"provider": "tencent", "mobile": "13100000001", "text": "退订"},
        timeout=5,
    )
    assert answer.json() == {"status": "pushed", "acknowledged": 1, "held": False}
    apply_stored_pushes()
    assert Uplink.objects.get().text == "退订"
