"""Test mode (issue 26, docs/api-platform.md "Test mode"): a tenant's test password runs its
requests in test mode: checked and answered as live ones, decided by the sandbox's magic numbers
through the same report code, never sent to a provider, never charged nor counted, and never seen
by the other mode."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from providers.base import InboundMessage, Region
from providers.sandbox import SandboxAdapter
from signatures.models import Signature
from sms.accounting import caps, reconciliation, traffic
from sms.alerts import rules
from sms.console import selectors as console
from sms.delivery import reports, uplinks
from sms.models import (
    BalanceLedger,
    BlocklistEntry,
    MessageBatch,
    RecordState,
    SendRecord,
    TenantAccount,
    TrafficHour,
    TrafficOwnerDay,
    Uplink,
    WebhookEndpoint,
    WebhookEvent,
)
from sms.sending import pipeline, routing, scheduling, sweeps
from sms.sending.checks import check_routing
from sms.sending.routing import BatchNeeds
from sms.tenant_api import services as tenant_services
from sms.tenant_api.credentials import set_test_password
from sms.tenant_api.services import charge_tenant
from sms.webhooks.services import event_payload
from tests.support.backends import needs_mysql
from tests.support.factories import TEST_PASSWORD, UserFactory
from tests.support.platform import make_signature, make_template
from tests.support.traffic import at, record, seed, tenant_batch
from tests.support.waiting import scaled

pytestmark = pytest.mark.django_db

TEST_MODE_PASSWORD = "test-mode-password"
MAGIC = ["13800000000", "13800000001", "13800000002", "13912345678"]


@pytest.fixture
def ready(tenant):
    """dcs with a passed signature and verify-code template, 100 messages and a test password."""
    sign = make_signature(tenant)
    template = make_template(tenant, sign)
    charge_tenant(username=tenant.username, charge=100)
    set_test_password(username=tenant.username, password=TEST_MODE_PASSWORD)
    return sign, template


@pytest.fixture
def live(basic_client, tenant):
    return basic_client(tenant)


@pytest.fixture
def sandboxed(basic_client, tenant):
    """dcs signed in with its test password."""
    return basic_client(tenant, TEST_MODE_PASSWORD)


def _body(ready, mobiles, **extra) -> dict:
    sign, template = ready
    return {
        "sign_id": sign.pk,
        "temp_id": template.pk,
        "mobiles": mobiles,
        "params": ["112095", "5"],
        **extra,
    }


def _accept(client, ready, mobiles, capture, **extra):
    """POST v1/message; the answer and the dispatches it published after commit."""
    with mock.patch("sms.sending.pipeline.publish_dispatch") as publish, capture(execute=True):
        response = client.post("/v1/message", _body(ready, mobiles, **extra), format="json")
    return response, publish.call_args_list


def _dispatch(calls) -> None:
    """Run the published dispatches here, as a worker would."""
    for call in calls:
        record_ids, provider, tried, _ = call.args
        pipeline.dispatch(
            record_ids=record_ids, provider=provider, attempt=0, tried=tried, lane=call.kwargs["lane"]
        )


def _balance() -> int:
    return TenantAccount.objects.get(user__username="dcs").balance_nums


# --- Credentials -----------------------------------------------------------------------------


def test_the_test_password_sends_test_batches_and_the_live_password_live_ones(
    ready, live, sandboxed, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    live_answer, live_calls = _accept(live, ready, ["13800000000"], capture)
    test_answer, test_calls = _accept(sandboxed, ready, ["13800000000"], capture)
    again, again_calls = _accept(sandboxed, ready, ["13800000001"], capture)  # a cached login: test still
    assert {live_answer.status_code, test_answer.status_code, again.status_code} == {200}
    assert set(live_answer.json()) == set(test_answer.json()) == {"uuid"}  # answered as live
    modes = dict(MessageBatch.objects.values_list("uuid", "test"))
    assert [modes[uuid.UUID(a.json()["uuid"])] for a in (live_answer, test_answer, again)] == [
        False,
        True,
        True,
    ]
    assert set(SendRecord.objects.filter(batch__test=True).values_list("test", flat=True)) == {True}
    assert SendRecord.objects.get(batch__test=False).test is False
    # Live goes to the tenant provider, test to the sandbox only.
    assert [call.args[1] for call in live_calls] == ["gateway"]
    assert [call.args[1] for call in test_calls + again_calls] == ["sandbox", "sandbox"]


def test_reads_work_with_the_test_password_and_show_the_live_balance(ready, sandboxed):
    assert sandboxed.get("/v1/balance").json() == {"balance": 100}
    assert sandboxed.get("/v1/signature").json()["total"] == 1
    assert sandboxed.get("/v1/template").json()["total"] == 1


WRITES = [
    ("post", "/v1/signature", {"signature": "新签名", "source": "营业执照"}),
    ("put", "/v1/callback", {"url": "https://hooks.example.com/sms"}),
    ("delete", "/v1/callback", None),
    ("post", "/v1/blocklist", {"mobiles": ["13912345678"]}),
    ("delete", "/v1/blocklist", {"mobiles": ["13912345678"]}),
    ("post", "/v1/template", {"name": "n", "template": "t{1}", "type": 2, "description": "d", "sign_id": 1}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_test_credentials_cannot_change_what_both_modes_share(ready, sandboxed, method, path, body):
    before = (Signature.objects.count(), BlocklistEntry.objects.count(), WebhookEndpoint.objects.count())
    response = getattr(sandboxed, method)(path, body, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "error": "ER:0001",
        "message": "auth not pass: test credentials only send messages and read: use the live password "
        "to change signatures, templates, the blocklist or the callback",
    }
    assert (
        Signature.objects.count(),
        BlocklistEntry.objects.count(),
        WebhookEndpoint.objects.count(),
    ) == before


def test_v2_never_takes_a_test_password(basic_client, root_user, ready):
    set_test_password(username="root", password=TEST_MODE_PASSWORD)
    charge = {"user": "dcs", "charge": 1}
    refused = basic_client(root_user, TEST_MODE_PASSWORD).post("/v2/charge", charge, format="json")
    assert (refused.status_code, refused.json()["error"]) == (400, "ER:0003")
    assert _balance() == 100
    assert basic_client(root_user).post("/v2/charge", charge, format="json").json()["balance"] == 101


def test_live_credentials_on_the_test_uplink_route_are_er0044(ready, live):
    response = live.post("/v1/test/uplink", {"mobile": "13800000000", "content": "1"}, format="json")
    assert response.status_code == 403
    assert response.json() == {
        "error": "ER:0044",
        "message": "test credentials only: this call takes the tenant's test password",
    }
    assert not Uplink.objects.exists()


def test_the_test_uplink_route_needs_credentials_and_json(api_client, ready, sandboxed):
    anonymous = api_client.post("/v1/test/uplink", {"mobile": "13800000000", "content": "1"}, format="json")
    assert (anonymous.status_code, anonymous.json()) == (
        400,
        {"error": "ER:0001", "message": "auth not pass"},
    )
    broken = sandboxed.post("/v1/test/uplink", data='{"mobile": ', content_type="application/json")
    assert (broken.status_code, broken.json()["error"]) == (400, "ER:0002")
    assert not Uplink.objects.exists()


def test_wrong_passwords_count_toward_the_lockout_as_before_and_test_logins_do_not(
    api_client, ready, settings
):
    settings.AUTH_FAILURE_LIMIT = 3

    def get(password: str) -> int:
        api_client.credentials(HTTP_AUTHORIZATION=UserFactory.basic_header("dcs", password))
        return api_client.get("/v1/balance").status_code

    assert [get("wrong-password-1"), get("wrong-password-2")] == [400, 400]
    assert [get(TEST_MODE_PASSWORD) for _ in range(5)] == [200] * 5  # no failure counted
    assert get(TEST_PASSWORD) == 200
    assert get("wrong-password-3") == 400  # the third failure locks the username here
    assert [get(TEST_MODE_PASSWORD), get(TEST_PASSWORD)] == [429, 429]


def test_the_test_password_never_opens_the_admin(ready, tenant):
    tenant.is_staff = True
    tenant.save()

    def login(password: str) -> bool:
        client = Client()
        client.post("/admin/login/", {"username": "dcs", "password": password})
        return "_auth_user_id" in client.session

    assert login(TEST_MODE_PASSWORD) is False
    assert login(TEST_PASSWORD) is True


def test_a_cached_test_login_ends_when_the_test_password_is_rotated(ready, basic_client, tenant):
    old = basic_client(tenant, TEST_MODE_PASSWORD)
    assert old.get("/v1/balance").status_code == 200  # now cached
    set_test_password(username="dcs", password="another-test-password")
    assert old.get("/v1/balance").json()["error"] == "ER:0001"
    assert basic_client(tenant, "another-test-password").get("/v1/balance").status_code == 200


def test_create_api_user_test_password_signs_in_for_test_mode(monkeypatch, ready, basic_client, tenant):
    monkeypatch.setenv("API_USER_PASSWORD", "from-the-command")
    call_command("create_api_user", "dcs", test=True)
    assert basic_client(tenant, "from-the-command").get("/v1/balance").status_code == 200
    assert basic_client(tenant, TEST_MODE_PASSWORD).get("/v1/balance").status_code == 400
    assert basic_client(tenant).get("/v1/balance").status_code == 200  # the live one unchanged


# --- v1/message: checked as live, never charged, never counted --------------------------------


def _suspend(_):
    TenantAccount.objects.filter(user__username="dcs").update(suspended_reason="unpaid invoices")


def _other_tenants_sign(body):
    other = UserFactory(username="other")
    sign = make_signature(other)
    body["temp_id"] = make_template(other, sign).pk
    body["sign_id"] = sign.pk


REFUSALS = {
    "ER:0023 not your signature": _other_tenants_sign,
    "ER:0033 invalid mobiles": lambda body: body.update(mobiles=["13800000000", "12345"]),
    "ER:0021 params": lambda body: body.update(params=["only-one"]),
    "ER:0004 no mobiles": lambda body: body.update(mobiles=[]),
    "ER:0004 send_at past": lambda body: body.update(send_at=1700000000),
    "ER:0004 callback_url without v1/callback": lambda body: body.update(callback_url="https://x.example/"),
    "ER:0037 suspended": _suspend,
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_test_mode_refuses_what_live_refuses_with_the_same_answer_and_writes_nothing(
    ready, live, sandboxed, case
):
    body = _body(ready, ["13800000000"])
    REFUSALS[case](body)
    answers = [client.post("/v1/message", body, format="json") for client in (live, sandboxed)]
    assert answers[0].json()["error"] == case.split()[0]
    assert (answers[0].status_code, answers[0].json()) == (answers[1].status_code, answers[1].json())
    assert not MessageBatch.objects.exists() and not SendRecord.objects.exists()


def test_test_mode_is_never_charged_and_its_balance_never_checked(
    tenant, basic_client, django_capture_on_commit_callbacks
):
    sign = make_signature(tenant)
    template = make_template(tenant, sign)
    set_test_password(username="dcs", password=TEST_MODE_PASSWORD)
    ready = (sign, template)
    live_answer = basic_client(tenant).post("/v1/message", _body(ready, MAGIC), format="json")
    assert live_answer.json()["error"] == "ER:0034"  # no balance
    answer, calls = _accept(
        basic_client(tenant, TEST_MODE_PASSWORD), ready, MAGIC, django_capture_on_commit_callbacks
    )
    assert answer.status_code == 200
    _dispatch(calls)
    assert SendRecord.objects.filter(test=True).count() == 4
    assert not BalanceLedger.objects.exists() and _balance() == 0


def test_the_magic_numbers_decide_through_the_report_code_with_test_webhook_events(
    ready, sandboxed, django_capture_on_commit_callbacks
):
    account = TenantAccount.objects.get(user__username="dcs")
    WebhookEndpoint.objects.create(tenant=account, url="https://hooks.example.com/sms", secret="s" * 64)
    answer, calls = _accept(sandboxed, ready, MAGIC, django_capture_on_commit_callbacks)
    with (
        mock.patch(
            "sms.sending.pipeline.apply_delivery_reports", wraps=reports.apply_delivery_reports
        ) as applied,
        mock.patch.object(SandboxAdapter, "post", side_effect=AssertionError("the sandbox went online")),
    ):
        _dispatch(calls)
    assert {call.kwargs["provider"] for call in applied.call_args_list} == {"sandbox"}
    progress = sandboxed.get("/v1/message", {"uuid": answer.json()["uuid"]}).json()
    assert progress["counts"] == {"queued": 0, "sending": 0, "delivered": 2, "failed": 1, "unknown": 1}
    states = {item["mobile"]: (item["state"], item["reason"]) for item in progress["items"]}
    assert states == {
        "13800000000": ("delivered", ""),
        "13800000001": ("failed", "SANDBOX:FAILED: test mode: the sandbox fails 13800000001"),
        "13800000002": ("unknown", "outcome unknown: the provider sends no delivery report for this number"),
        "13912345678": ("delivered", ""),
    }
    assert set(SendRecord.objects.values_list("provider", flat=True)) == {"sandbox"}
    payloads = [event_payload(event) for event in WebhookEvent.objects.select_related("record__batch")]
    assert sorted((p["mobile"], p["status"], p["code"], p["test"]) for p in payloads) == [
        ("13800000000", "delivered", "SANDBOX:DELIVERED", True),
        ("13800000001", "failed", "SANDBOX:FAILED", True),
        ("13912345678", "delivered", "SANDBOX:DELIVERED", True),
    ]
    # Never charged: the charge is the only ledger row, nothing reserved, nothing refunded.
    assert list(BalanceLedger.objects.values_list("reason", flat=True)) == ["charge"]
    assert _balance() == 100


def test_a_live_event_says_test_false(ready, live, django_capture_on_commit_callbacks):
    account = TenantAccount.objects.get(user__username="dcs")
    WebhookEndpoint.objects.create(tenant=account, url="https://hooks.example.com/sms", secret="s" * 64)
    answer, _ = _accept(live, ready, ["13800000000"], django_capture_on_commit_callbacks)
    live.delete(f"/v1/message?uuid={answer.json()['uuid']}")
    (event,) = WebhookEvent.objects.select_related("record__batch")
    assert event_payload(event)["test"] is False


def test_test_mode_verify_codes_book_no_limit(
    ready, live, sandboxed, django_capture_on_commit_callbacks, settings
):
    settings.SMS_VERIFY_LIMITS = "1/60s"
    capture = django_capture_on_commit_callbacks
    for _ in range(2):
        assert _accept(sandboxed, ready, ["13912340301"], capture)[0].status_code == 200
    assert _accept(live, ready, ["13912340301"], capture)[0].status_code == 200
    assert not SendRecord.objects.filter(provider_code="LIMITED").exists()
    # The live one booked its window: a second live one is limited, as before.
    _accept(live, ready, ["13912340301"], capture)
    assert SendRecord.objects.filter(provider_code="LIMITED", test=False).count() == 1


def test_live_and_test_never_see_each_others_messages(
    ready, live, sandboxed, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    live_uuid = _accept(
        live, ready, ["13912345678"], capture, send_at=int(timezone.now().timestamp()) + 3600
    )[0]
    test_uuid = _accept(
        sandboxed, ready, ["13912345678"], capture, send_at=int(timezone.now().timestamp()) + 3600
    )[0]
    for client, theirs in ((live, test_uuid), (sandboxed, live_uuid)):
        uuid = theirs.json()["uuid"]
        for answer in (client.get("/v1/message", {"uuid": uuid}), client.delete(f"/v1/message?uuid={uuid}")):
            assert (answer.status_code, answer.json()["error"]) == (400, "ER:0004")
            assert answer.json()["message"].endswith(f"{uuid} is not one of your messages")
    assert not SendRecord.objects.filter(provider_code="CANCELLED").exists()
    for client, mine in ((live, live_uuid), (sandboxed, test_uuid)):
        assert client.get("/v1/message", {"uuid": mine.json()["uuid"]}).json()["total"] == 1


def test_cancelling_a_test_batch_gives_nothing_back(ready, sandboxed, django_capture_on_commit_callbacks):
    answer, _ = _accept(
        sandboxed,
        ready,
        ["13912345678"],
        django_capture_on_commit_callbacks,
        send_at=int(timezone.now().timestamp()) + 3600,
    )
    cancelled = sandboxed.delete(f"/v1/message?uuid={answer.json()['uuid']}").json()
    assert cancelled["cancelled"] == 1
    assert SendRecord.objects.get().provider_code == "CANCELLED"
    assert list(BalanceLedger.objects.values_list("reason", flat=True)) == ["charge"] and _balance() == 100


def test_a_test_record_settled_unknown_under_the_refund_policy_gets_nothing_back(
    ready, sandboxed, django_capture_on_commit_callbacks
):
    _, calls = _accept(sandboxed, ready, ["13800000002"], django_capture_on_commit_callbacks)
    _dispatch(calls)
    assert SendRecord.objects.get().state == RecordState.UNKNOWN
    SendRecord.objects.update(unknown_at=timezone.now() - dt.timedelta(days=8))
    assert sweeps.settle_unknown(older_than=dt.timedelta(days=7), policy="refund") == 1
    settled = SendRecord.objects.get()
    assert (settled.state, settled.provider_code, settled.refunded) == (RecordState.FAILED, "NoReport", False)
    assert list(BalanceLedger.objects.values_list("reason", flat=True)) == ["charge"] and _balance() == 100


def test_the_same_idempotency_key_in_live_and_test_mode_never_collides(
    ready, live, sandboxed, django_capture_on_commit_callbacks
):
    body = _body(ready, ["13912345678"])
    key = {"HTTP_IDEMPOTENCY_KEY": "order-42"}
    with (
        mock.patch("sms.sending.pipeline.publish_dispatch"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        first_live = live.post("/v1/message", body, format="json", **key)
        first_test = sandboxed.post("/v1/message", body, format="json", **key)
        again_test = sandboxed.post("/v1/message", body, format="json", **key)
    assert first_live.status_code == first_test.status_code == 200
    assert first_live.json()["uuid"] != first_test.json()["uuid"]
    assert again_test.json() == first_test.json() and again_test["Idempotent-Replayed"] == "true"
    assert sorted(MessageBatch.objects.values_list("test", flat=True)) == [False, True]


# --- Never sent: routing ---------------------------------------------------------------------


def test_routing_sends_test_records_only_to_the_sandbox_and_live_ones_never_there():
    mainland, abroad = "+8613800000000", "+12025550123"
    assert routing.route_for(SendRecord(batch_id=1, phone_e164=mainland, test=True)) == "sandbox"
    assert routing.route_for(SendRecord(batch_id=1, phone_e164=abroad, test=True)) == "sandbox"
    assert routing.route_for(SendRecord(batch_id=1, phone_e164=mainland)) == "gateway"
    live = BatchNeeds(frozenset({Region.MAINLAND}), needs_text=True)
    test = BatchNeeds(frozenset({Region.MAINLAND}), needs_text=True, modes=frozenset({True}))
    both = BatchNeeds(frozenset({Region.MAINLAND}), needs_text=True, modes=frozenset({True, False}))
    assert routing.unfit_reason("sandbox", live) and routing.unfit_reason("sandbox", both)
    assert routing.unfit_reason("gateway", test) and not routing.unfit_reason("sandbox", test)
    assert routing.next_provider("sandbox", (), needs=test) is None  # no failover out of test mode


def test_a_test_record_handed_to_a_real_provider_is_never_sent(
    ready, sandboxed, django_capture_on_commit_callbacks
):
    _, calls = _accept(sandboxed, ready, ["13912345678"], django_capture_on_commit_callbacks)
    (call,) = calls
    with mock.patch("sms.sending.pipeline.send_dispatch") as sent:
        pipeline.dispatch(record_ids=call.args[0], provider="gateway", attempt=0, tried=[])
    sent.assert_not_called()
    refused = SendRecord.objects.get()
    assert (refused.state, refused.provider_code) == (RecordState.FAILED, "NoRoute")
    assert list(BalanceLedger.objects.values_list("reason", flat=True)) == ["charge"]


def test_a_live_record_handed_to_the_sandbox_is_never_taken_by_it(
    ready, live, django_capture_on_commit_callbacks
):
    _, calls = _accept(live, ready, ["13912345678"], django_capture_on_commit_callbacks)
    (call,) = calls
    with (
        mock.patch.object(SandboxAdapter, "send_batch") as taken,
        mock.patch("sms.sending.pipeline.publish_dispatch") as published,
        django_capture_on_commit_callbacks(execute=True),
    ):
        pipeline.dispatch(record_ids=call.args[0], provider="sandbox", attempt=0, tried=[])
    taken.assert_not_called()
    assert [c.args[1] for c in published.call_args_list] == ["gateway"]  # failed over to a real one
    assert SendRecord.objects.get().state == RecordState.QUEUED


def test_a_released_or_requeued_test_record_still_goes_to_the_sandbox(
    ready, sandboxed, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    held, _ = _accept(
        sandboxed, ready, ["13912345678"], capture, send_at=int(timezone.now().timestamp()) + 60
    )
    batch = MessageBatch.objects.get(uuid=held.json()["uuid"])
    with mock.patch("sms.sending.pipeline.publish_dispatch") as published, capture(execute=True):
        assert scheduling.release_held_batch(batch_id=batch.pk) == 1  # beat's release at send_at
    with mock.patch("sms.sending.pipeline.publish_dispatch") as republished, capture(execute=True):
        pipeline.queue_for_dispatch([SendRecord.objects.get().pk])  # the stale-queued sweep's path
    assert [call.args[1] for call in published.call_args_list + republished.call_args_list] == [
        "sandbox",
        "sandbox",
    ]


def test_manage_py_check_refuses_the_sandbox_in_a_routing_setting(settings):
    def errors() -> list[str]:
        return sorted(message.id for message in check_routing() if message.level >= 40)

    assert errors() == []
    settings.SMS_TENANT_PROVIDER = "sandbox"
    settings.SMS_FAILOVER_MAINLAND = ["tencent", "sandbox"]
    assert errors() == ["sms.E002", "sms.E003"]


# --- Test replies: POST v1/test/uplink ---------------------------------------------------------


def _dispatched(client, ready, mobiles, capture) -> str:
    answer, calls = _accept(client, ready, mobiles, capture)
    _dispatch(calls)
    return answer.json()["uuid"]


def test_a_test_reply_answers_the_latest_test_message_and_is_listed_in_test_mode_only(
    ready, live, sandboxed, django_capture_on_commit_callbacks
):
    _dispatched(sandboxed, ready, ["13800000000"], django_capture_on_commit_callbacks)
    latest = _dispatched(sandboxed, ready, ["13800000000"], django_capture_on_commit_callbacks)
    answer = sandboxed.post("/v1/test/uplink", {"mobile": "138-0000-0000", "content": "1"}, format="json")
    assert answer.status_code == 200
    body = answer.json()
    assert {key: body[key] for key in ("mobile", "text", "sign", "uuid")} == {
        "mobile": "13800000000",
        "text": "1",
        "sign": "",
        "uuid": latest,
    }
    listed = sandboxed.get("/v1/uplink").json()
    assert listed["total"] == 1 and listed["items"][0] == body
    assert live.get("/v1/uplink").json()["total"] == 0


def test_an_opt_out_test_reply_blocks_nothing(ready, sandboxed, django_capture_on_commit_callbacks):
    _dispatched(sandboxed, ready, ["13800000000"], django_capture_on_commit_callbacks)
    for keyword in ("TD", "回T退订", "退订"):
        answer = sandboxed.post(
            "/v1/test/uplink", {"mobile": "13800000000", "content": keyword}, format="json"
        )
        assert answer.status_code == 200
    assert Uplink.objects.filter(test=True).count() == 3
    assert not BlocklistEntry.objects.exists()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"mobile": "13912340000", "content": "1"}, "ER:0004"),  # no test message to it
        ({"mobile": "12345", "content": "1"}, "ER:0033"),
        ({"mobile": "13800000000"}, "ER:0004"),
        ({"mobile": "13800000000", "content": ""}, "ER:0004"),
        ({"mobile": "13800000000", "content": "   "}, "ER:0004"),
        ({"mobile": "13800000000", "content": "x" * 501}, "ER:0004"),
        ({"mobile": ["13800000000"], "content": "1"}, "ER:0004"),
    ],
)
def test_bad_test_replies_get_a_clear_error_and_write_nothing(
    ready, live, sandboxed, django_capture_on_commit_callbacks, body, error
):
    _dispatched(sandboxed, ready, ["13800000000"], django_capture_on_commit_callbacks)
    _accept(live, ready, ["13912340000"], django_capture_on_commit_callbacks)  # a live message only
    SendRecord.objects.filter(test=False).update(submitted_at=timezone.now(), provider="gateway")
    answer = sandboxed.post("/v1/test/uplink", body, format="json")
    assert answer.json()["error"] == error
    assert not Uplink.objects.exists()


def test_a_real_reply_never_answers_a_test_message(ready, sandboxed, django_capture_on_commit_callbacks):
    _dispatched(sandboxed, ready, ["13912345678"], django_capture_on_commit_callbacks)
    uplinks.store_uplinks(
        provider="gateway", messages=[InboundMessage(provider="gateway", phone="13912345678", text="TD")]
    )
    stored = Uplink.objects.get()
    assert (stored.record_id, stored.tenant_id, stored.test) == (None, None, False)
    assert not BlocklistEntry.objects.exists()


# --- Never counted: traffic, money, reconciliation, health -------------------------------------


@pytest.fixture
def staff(client):
    client.force_login(UserFactory(username="operator", is_staff=True))
    return client


def _console(client, endpoint: str) -> dict:
    response = client.get(f"/dashboard/api/{endpoint}?from=2026-12-01&to=2026-12-02")
    assert response.status_code == 200, response.content
    return response.json()


def _test_batch(username: str) -> MessageBatch:
    batch = tenant_batch(username, template_type=3)
    MessageBatch.objects.filter(pk=batch.pk).update(test=True)
    return batch


def _owner_days() -> set[tuple]:
    """Every owner-day row's values (its latency buckets as sorted pairs)."""
    return {
        tuple(tuple(sorted(v.items())) if isinstance(v, dict) else v for k, v in row.items() if k != "id")
        for row in TrafficOwnerDay.objects.values()
    }


def test_the_traffic_rollup_and_the_consoles_money_never_count_test_records(staff, settings):
    settings.SMS_TENANT_DEFAULT_PRICE_FEN = 5.0
    settings.SMS_PROVIDER_PRICES = {"tencent": {"+86": 4, "*": 30}, "gateway": {"+86": 3}}
    seed()
    traffic.roll_up()
    before = {endpoint: _console(staff, endpoint) for endpoint in ("summary", "money", "top", "failures")}
    owner_days = _owner_days()
    # Test mode's traffic of the same tenant (and of a new one) in the same hours.
    for username in ("dcs", "tester"):
        batch = _test_batch(username)
        for state, code in (
            ("delivered", "SANDBOX:DELIVERED"),
            ("failed", "SANDBOX:FAILED"),
            ("unknown", ""),
        ):
            record(
                at(1, 10),
                batch=batch,
                provider="sandbox",
                state=state,
                provider_code=code,
                segments=3,
                test=True,
            )
    traffic.rebuild(first_day=dt.date(2026, 12, 1), last_day=dt.date(2026, 12, 2))
    assert {endpoint: _console(staff, endpoint) for endpoint in before} == before
    assert _owner_days() == owner_days
    assert not TrafficHour.objects.filter(provider="sandbox").exists()
    assert not TrafficHour.objects.filter(owner="tester").exists()


def test_reconciliation_leaves_test_records_out(tenant):
    live_batch = tenant_batch("dcs", template_type=2)
    test_batch = _test_batch("tester")
    record(at(1, 10), batch=live_batch, provider="gateway", billed_parts=2)
    record(at(1, 10), batch=test_batch, provider="sandbox", billed_parts=2, test=True)
    report = reconciliation.billing_reconciliation(day=dt.date(2026, 12, 1))
    assert [(billing.provider, billing.accepted) for billing in report] == [("gateway", 1)]


def test_the_consoles_health_and_the_report_lag_alert_leave_test_records_out():
    batch = _test_batch("tester")
    long_ago = timezone.now() - dt.timedelta(hours=5)
    record(long_ago, batch=batch, provider="sandbox", state="unknown", test=True)
    record(long_ago, batch=batch, provider="sandbox", state="submitted", test=True)
    SendRecord.objects.update(updated_at=long_ago)
    health = console.traffic_health().body
    assert (health["unknown_records"], health["awaiting_report"]) == (0, 0)
    inputs = rules.Inputs(at=timezone.now())
    rules._measure_report_lag(inputs)
    assert inputs.report_lag_seconds == 0.0


# --- Test mode's own daily ceiling (ER:0045) ------------------------------------------------------


def _test_messages_today(user) -> int:
    return caps.test_usage(tenant_id=TenantAccount.objects.get(user=user).pk, day=caps.today())


def test_a_test_send_beyond_the_daily_ceiling_is_er0045_whole_and_writes_nothing(
    ready, live, sandboxed, tenant, settings, django_capture_on_commit_callbacks
):
    settings.SMS_TEST_MODE_DAILY_MESSAGES = 5
    capture = django_capture_on_commit_callbacks
    first, _ = _accept(sandboxed, ready, MAGIC, capture)
    assert first.status_code == 200
    refused, calls = _accept(sandboxed, ready, ["13800000000", "13800000001"], capture)
    assert (refused.status_code, refused.json()) == (
        403,
        {
            "error": "ER:0045",
            "message": "test mode daily ceiling reached: 4 of 5 test-mode messages used today (China time), "
            "this request makes 2",
        },
    )
    assert calls == []
    assert MessageBatch.objects.filter(test=True).count() == 1
    assert SendRecord.objects.filter(test=True).count() == 4
    assert _test_messages_today(tenant) == 4
    # One more fits exactly; live sending is not limited by test mode's ceiling.
    assert _accept(sandboxed, ready, ["13800000000"], capture)[0].status_code == 200
    assert _accept(live, ready, MAGIC, capture)[0].status_code == 200
    assert _test_messages_today(tenant) == 5


def test_test_replies_count_toward_the_ceiling_and_a_new_china_day_frees_it(
    ready, sandboxed, tenant, settings, business_clock, django_capture_on_commit_callbacks
):
    settings.SMS_TEST_MODE_DAILY_MESSAGES = 2
    business_clock.set_now(dt.datetime(2026, 12, 5, 23, 50, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    _dispatched(sandboxed, ready, ["13800000000"], django_capture_on_commit_callbacks)
    reply = {"mobile": "13800000000", "content": "1"}
    assert sandboxed.post("/v1/test/uplink", reply, format="json").status_code == 200
    refused = sandboxed.post("/v1/test/uplink", reply, format="json")
    assert (refused.status_code, refused.json()["error"]) == (403, "ER:0045")
    assert Uplink.objects.count() == 1 and _test_messages_today(tenant) == 2
    business_clock.set_now(dt.datetime(2026, 12, 6, 0, 10, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    assert sandboxed.post("/v1/test/uplink", reply, format="json").status_code == 200
    assert _test_messages_today(tenant) == 1


def test_one_tenants_ceiling_never_refuses_another(
    ready, sandboxed, basic_client, settings, django_capture_on_commit_callbacks
):
    settings.SMS_TEST_MODE_DAILY_MESSAGES = 1
    capture = django_capture_on_commit_callbacks
    assert _accept(sandboxed, ready, ["13800000000"], capture)[0].status_code == 200
    assert _accept(sandboxed, ready, ["13800000000"], capture)[0].json()["error"] == "ER:0045"
    other = UserFactory(username="other")
    sign = make_signature(other)
    template = make_template(other, sign)
    set_test_password(username="other", password=TEST_MODE_PASSWORD)
    answer, _ = _accept(basic_client(other, TEST_MODE_PASSWORD), (sign, template), ["13800000000"], capture)
    assert answer.status_code == 200


def test_a_ceiling_of_0_is_none(ready, sandboxed, settings, django_capture_on_commit_callbacks):
    settings.SMS_TEST_MODE_DAILY_MESSAGES = 0
    for _ in range(3):
        assert _accept(sandboxed, ready, MAGIC, django_capture_on_commit_callbacks)[0].status_code == 200


def test_the_estimate_in_test_mode_names_the_ceiling_and_books_nothing(
    ready, sandboxed, tenant, settings, django_capture_on_commit_callbacks
):
    settings.SMS_TEST_MODE_DAILY_MESSAGES = 5
    _accept(sandboxed, ready, MAGIC, django_capture_on_commit_callbacks)
    fits = sandboxed.post("/v1/message/estimate", _body(ready, ["13800000000"]), format="json")
    assert (fits.status_code, fits.json()["refusal"]) == (200, None)
    beyond = sandboxed.post(
        "/v1/message/estimate", _body(ready, ["13800000000", "13800000001"]), format="json"
    )
    assert beyond.status_code == 200
    assert beyond.json()["refusal"] == {
        "error": "ER:0045",
        "message": "test mode daily ceiling reached: 4 of 5 test-mode messages used today (China time), "
        "this request makes 2",
    }
    assert _test_messages_today(tenant) == 4


@needs_mysql("row locks are MySQL's; SQLite serialises every write")
@pytest.mark.django_db(transaction=True)
def test_concurrent_test_sends_never_pass_the_ceiling_together(tenant, settings):
    """Eight test sends of 3 numbers race for a ceiling of 10: exactly three pass, whatever the
    interleaving: the tenant's row, locked by the booking, orders them."""
    settings.SMS_TEST_MODE_DAILY_MESSAGES = 10
    sign = make_signature(tenant)
    template = make_template(tenant, sign)
    barrier = threading.Barrier(8)

    def send(index: int) -> str:
        try:
            barrier.wait(timeout=scaled(60))
            tenant_services.send_tenant_message(
                owner=tenant,
                sign_id=sign.pk,
                temp_id=template.pk,
                mobiles=[f"1391234{index:02d}{last:02d}" for last in range(3)],
                params=["112095", "5"],
                test=True,
            )
            return "sent"
        except Exception as exc:  # noqa: BLE001 - the test counts what each send raised
            return type(exc).__name__
        finally:
            connection.close()

    # The account exists before the race, as any tenant's that sends.
    TenantAccount.objects.create(user=tenant)
    with mock.patch("sms.sending.pipeline.publish_dispatch"), ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(send, range(8)))
    assert sorted(outcomes) == ["CapReached"] * 5 + ["sent"] * 3
    assert _test_messages_today(tenant) == 9
    assert SendRecord.objects.filter(test=True).count() == 9
