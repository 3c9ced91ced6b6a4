"""Uplinks (replies): stored once whatever the path and however often they come, matched to the
send they answer, and listed to its station (/sms/uplink/get) or tenant (v1/uplink)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from providers.base import InboundMessage
from sms.delivery import uplinks
from sms.models import MessageBatch, RecordState, SendRecord, TenantAccount, Uplink
from sms.sending import sweeps
from tests.support.pushes import apply_stored_pushes
from tests.support.simulator import running_simulator

TOKEN = "test-callback-token"
PHONE = "13100000001"
NOW = timezone.now().replace(microsecond=0)

pytestmark = pytest.mark.django_db


@pytest.fixture
def simulator(settings):
    settings.PROVIDER_HTTP_TIMEOUT = 2.0
    with running_simulator(settings) as running:
        yield running


def _record(
    *,
    station_id: str | None = "T7442",
    batch: MessageBatch | None = None,
    phone: str = PHONE,
    sign: str = "去采购",
    provider: str = "gateway",
    ago: dt.timedelta = dt.timedelta(minutes=5),
    submitted: bool = True,
) -> SendRecord:
    record = SendRecord.objects.create(
        station_id=station_id,
        batch=batch,
        receive_phone=phone,
        phone_e164=f"+86{phone}",
        business_type=0 if station_id else None,
        content=f"【{sign}】您的订单已提交",
        segments=1,
        state=RecordState.DELIVERED if submitted else RecordState.CREATED,
        provider=provider,
        submitted_at=NOW - ago if submitted else None,
    )
    SendRecord.objects.filter(pk=record.pk).update(created_at=NOW - ago)  # auto_now_add: set after
    record.refresh_from_db()
    return record


def _batch(user) -> MessageBatch:
    account, _ = TenantAccount.objects.get_or_create(user=user)
    return MessageBatch.objects.create(
        uuid=uuid.uuid4(), tenant=account, sign_id=1, temp_id=1, content="x", total=1
    )


def _uplink(
    text: str = "好的", *, phone: str = PHONE, sign: str = "", extend: str = "", **kwargs
) -> InboundMessage:
    return InboundMessage(
        provider=kwargs.pop("provider", "gateway"),
        phone=phone,
        text=text,
        received_at=kwargs.pop("received_at", NOW),
        sign=sign,
        extend=extend,
    )


def _store(*messages: InboundMessage) -> int:
    return uplinks.store_uplinks(provider=messages[0].provider, messages=messages)


# --- stored once ---------------------------------------------------------------------------------


def test_the_same_uplink_stored_twice_is_one_row():
    assert _store(_uplink()) == 1
    assert _store(_uplink()) == 0
    assert _store(_uplink(), _uplink()) == 0
    assert Uplink.objects.count() == 1


def test_a_pushed_uplink_pulled_masked_is_still_one_row():
    # Seed 002's push names the full number, its /api/v1/mo pull a masked one: the same reply.
    _store(_uplink(phone=PHONE))
    _store(_uplink(phone="131****0001"))
    _store(_uplink(phone=f"+86{PHONE}"))
    assert list(Uplink.objects.values_list("phone", flat=True)) == [PHONE]


def test_other_text_time_number_or_provider_is_another_uplink():
    _store(_uplink())
    _store(_uplink("不要了"))
    _store(_uplink(received_at=NOW + dt.timedelta(seconds=1)))
    _store(_uplink(phone="13100000002"))
    _store(_uplink(provider="tencent"))
    assert Uplink.objects.count() == 5


def test_the_providers_own_id_is_the_key_where_it_has_one():
    first = InboundMessage(provider="gateway", phone=PHONE, text="a", provider_uplink_id="mo-1")
    again = InboundMessage(provider="gateway", phone=PHONE, text="a (resent)", provider_uplink_id="mo-1")
    assert first.natural_key == again.natural_key
    assert _store(first) == 1 and _store(again) == 0


def test_the_database_refuses_a_second_row_with_the_same_key():
    from django.db import IntegrityError, transaction

    _store(_uplink())
    row = Uplink.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Uplink.objects.create(
            provider=row.provider, uplink_key=row.uplink_key, phone=PHONE, text="x", received_at=NOW
        )


def test_a_push_repeated_through_the_callback_is_one_row(api_client):
    body = {"mobile": PHONE, "content": "TD", "times": "2026-01-02 03:04:05", "extNo": ""}
    for _ in range(2):
        response = api_client.post(
            f"/providers/gateway/uplink?token={TOKEN}", data=json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 200
        apply_stored_pushes()
    assert Uplink.objects.count() == 1


# --- matched to the send it answers --------------------------------------------------------------


def test_an_uplink_without_signature_or_extension_answers_the_last_message_the_number_received():
    _record(station_id="S-OLD", ago=dt.timedelta(days=2))
    latest = _record(station_id="S-NEW", ago=dt.timedelta(hours=1))
    _record(station_id="S-OTHER-PHONE", phone="13100000002", ago=dt.timedelta(minutes=1))
    _record(station_id="S-NOT-SENT", ago=dt.timedelta(minutes=1), submitted=False)
    _store(_uplink())
    row = Uplink.objects.get()
    assert (row.record_id, row.station_id, row.tenant_id, row.batch_id) == (latest.pk, "S-NEW", None, None)


def test_an_uplink_matches_a_tenant_message_with_its_batch(tenant):
    batch = _batch(tenant)
    record = _record(station_id=None, batch=batch)
    _store(_uplink())
    row = Uplink.objects.get()
    assert (row.record_id, row.station_id, row.tenant.user, row.batch.uuid) == (
        record.pk,
        None,
        tenant,
        batch.uuid,
    )


def test_the_signature_wins_over_a_later_message_under_another(tenant):
    ours = _record(station_id="S-SIGNED", sign="去采购", ago=dt.timedelta(days=1))
    _record(station_id=None, batch=_batch(tenant), sign="别家", ago=dt.timedelta(minutes=1))
    _store(_uplink(sign="去采购"))
    assert Uplink.objects.get().record_id == ours.pk


def test_an_uplink_under_a_signature_we_did_not_send_is_unmatched():
    _record(sign="去采购")
    _store(_uplink(sign="别家"))
    row = Uplink.objects.get()
    assert (row.record_id, row.station_id, row.tenant_id) == (None, None, None)


def test_an_extension_number_keeps_to_the_providers_messages():
    through_gateway = _record(station_id="S-GW", provider="gateway", ago=dt.timedelta(hours=3))
    _record(station_id="S-TC", provider="tencent", ago=dt.timedelta(minutes=1))
    _store(_uplink(extend="10"))
    assert Uplink.objects.get().record_id == through_gateway.pk
    # Without the extension the later message wins.
    _store(_uplink("另一条"))
    assert Uplink.objects.get(text="另一条").station_id == "S-TC"


def test_a_masked_number_matches_by_its_visible_digits():
    record = _record()
    _store(_uplink(phone="131****0001"))
    assert Uplink.objects.get().record_id == record.pk


@pytest.mark.parametrize("phone", ["", "***********", "131****", "****0001", "86***********"])
def test_an_uplink_from_an_empty_or_all_masked_number_matches_no_record(phone):
    """The only record in reach is not guessed from a number that shows nothing, or too little."""
    _record()
    _store(_uplink(phone=phone))
    assert not Uplink.objects.filter(record__isnull=False).exists()


def test_only_messages_within_the_match_window_are_answered(settings):
    settings.SMS_UPLINK_MATCH_DAYS = 7
    _record(station_id="S-8-DAYS", ago=dt.timedelta(days=8))
    _store(_uplink())
    assert Uplink.objects.get().record_id is None
    inside = _record(station_id="S-6-DAYS", ago=dt.timedelta(days=6))
    _store(_uplink("第二条"))
    assert Uplink.objects.get(text="第二条").record_id == inside.pk
    settings.SMS_UPLINK_MATCH_DAYS = 5
    _store(_uplink("第三条"))
    assert Uplink.objects.get(text="第三条").record_id is None


def test_a_message_sent_after_the_reply_is_not_what_it_answers():
    _record(station_id="S-LATER", ago=-dt.timedelta(minutes=10))
    _store(_uplink())
    assert Uplink.objects.get().record_id is None


# --- pulled on schedule --------------------------------------------------------------------------


def test_beat_pulls_only_the_providers_configured(settings):
    settings.SMS_PULL_UPLINK_PROVIDERS = ["gateway", "nope"]
    assert sweeps.uplink_providers_to_pull() == ["gateway"]
    settings.SMS_PULL_UPLINK_PROVIDERS = []
    assert sweeps.uplink_providers_to_pull() == []


@pytest.mark.parametrize("provider", ["gateway", "tencent"])
def test_held_uplinks_are_pulled_and_stored_once(simulator, provider):
    record = _record(provider=provider, ago=dt.timedelta(seconds=30))
    simulator.configure(push=False)
    for _ in range(2):
        simulator.inject_uplink(provider=provider, mobile=PHONE, text="收到", time=int(NOW.timestamp()))
    assert sweeps.pull_uplinks(provider=provider) == 1
    assert simulator.state.held_uplinks[provider] == []
    row = Uplink.objects.get()
    assert (row.provider, row.text, row.record_id, row.received_at) == (provider, "收到", record.pk, NOW)
    assert sweeps.pull_uplinks(provider=provider) == 0


def test_a_pull_that_fails_stores_nothing_and_raises_nothing(simulator):
    simulator.configure(push=False, down=["gateway"])
    simulator.inject_uplink(provider="gateway", mobile=PHONE, text="收到")
    assert sweeps.pull_uplinks(provider="gateway") == 0
    assert not Uplink.objects.exists()


# --- listed: v1/uplink, /sms/uplink/get, the admin -----------------------------------------------


def _two_owners(tenant, other_tenant) -> tuple[MessageBatch, MessageBatch]:
    mine, theirs = _batch(tenant), _batch(other_tenant)
    _record(station_id=None, batch=mine, phone="13100000001")
    _record(station_id=None, batch=theirs, phone="13100000002")
    _record(station_id="T7442", phone="13100000003")
    _store(_uplink("我的", phone="13100000001", received_at=NOW - dt.timedelta(seconds=10)))
    _store(_uplink("他的", phone="13100000002"))
    _store(_uplink("站点的", phone="+8613100000003"))
    return mine, theirs


def test_v1_uplink_lists_the_tenants_own_replies(basic_client, tenant, other_tenant):
    mine, _ = _two_owners(tenant, other_tenant)
    response = basic_client(tenant).get("/v1/uplink")
    assert response.status_code == 200
    assert response.json() == {
        "items": [
            {
                "mobile": "13100000001",
                "text": "我的",
                "sign": "",
                "received_at": int(NOW.timestamp()) - 10,
                "uuid": str(mine.uuid),
            }
        ],
        "total": 1,
        "page": 1,
        "page_size": 20,
    }
    since = int(NOW.timestamp())
    assert basic_client(tenant).get("/v1/uplink", {"since": since}).json()["total"] == 0
    assert basic_client(tenant).get("/v1/uplink", {"since": since - 10}).json()["total"] == 1


@pytest.mark.parametrize(
    "query",
    [
        {"page_size": 1000},
        {"page": 0},
        {"since": "yesterday"},
        {"since": -1},
        {"since": 10**20},
        {"page": 10**30},
    ],
)
def test_v1_uplink_refuses_bad_parameters_with_the_platform_error(basic_client, tenant, query):
    response = basic_client(tenant).get("/v1/uplink", query)
    assert (response.status_code, response.json()["error"]) == (400, "ER:0004")


def test_v1_uplink_needs_basic_auth(api_client):
    response = api_client.get("/v1/uplink")
    assert (response.status_code, response.json()["error"]) == (400, "ER:0001")  # seed 001's "auth not pass"


def test_station_uplinks_are_listed_with_the_envelope_and_paging(station_client, tenant, other_tenant):
    _two_owners(tenant, other_tenant)
    for index in range(3):
        _store(_uplink(f"再{index}", phone="13100000003", received_at=NOW - dt.timedelta(minutes=index + 1)))
    first = station_client.get("/sms/uplink/get", {"station_id": "T7442", "limit": 2}).json()
    assert first["code"] == 0, first
    assert [item["content"] for item in first["data"]] == ["站点的", "再0"]
    assert first["data"][0] == {
        "mobile": "13100000003",
        "content": "站点的",
        "sign": "",
        "receive_time": timezone.localtime(NOW).strftime("%Y-%m-%d %H:%M:%S"),
        "task_id": SendRecord.objects.get(station_id="T7442").pk,
    }
    assert first["pagination"]["more"] is True
    second = station_client.get(
        "/sms/uplink/get", {"station_id": "T7442", "limit": 2, "page_obj": first["pagination"]["page_obj"]}
    ).json()
    assert [item["content"] for item in second["data"]] == ["再1", "再2"]
    assert second["pagination"] == {"page_obj": None, "more": False}
    other = station_client.get("/sms/uplink/get", {"station_id": "T0000"}).json()
    assert (other["code"], other["data"]) == (0, [])


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"station_id": "T7442", "start_date": "1999-12-31"},
        {"station_id": "T7442", "start_date": "2026-02-01", "end_date": "2026-01-01"},
        {"station_id": "T7442", "end_date": "99999-01-01"},
        {"station_id": "T7442", "limit": 101},
        {"station_id": "T7442", "page_obj": "forged"},
    ],
)
def test_station_uplinks_refuse_bad_parameters_with_1002(station_client, query):
    response = station_client.get("/sms/uplink/get", query)
    assert (response.status_code, response.json()["code"]) == (400, 1002)


def test_the_admin_lists_every_uplink_with_masked_numbers(client, tenant, other_tenant):
    _two_owners(tenant, other_tenant)
    _store(_uplink("谁的", phone="13900000009"))
    client.force_login(get_user_model().objects.create_superuser("ops", password="x"))
    page = client.get("/admin/sms/uplink/").content.decode()
    assert "131****0001" in page and "139****0009" in page and "谁的" in page
    assert "13100000001" not in page
    found = client.get("/admin/sms/uplink/", {"q": "13900000009"}).content.decode()
    assert "谁的" in found and "我的" not in found
