"""Idempotency-Key on the POSTs that create a record or move money: a retry answers the first
answer again and changes nothing."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient

from sms.core import idempotency
from sms.models import BalanceLedger, IdempotencyKey, SendRecord, TenantAccount
from tests.conftest import SERVICE_TOKEN
from tests.sms.conftest import seed_send_request
from tests.support.platform import make_signature, make_template

pytestmark = pytest.mark.django_db

ADD = "/sms/send/add"


def _add(client, key: str | None, **overrides):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        return client.post(ADD, seed_send_request(**overrides), format="json", **headers)


def test_a_replay_answers_the_first_answer_and_reserves_once(station_client, recharge):
    recharge("T7442", 10)
    first = _add(station_client, "order-42-sms")
    again = _add(station_client, "order-42-sms")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert SendRecord.objects.count() == 1
    assert BalanceLedger.objects.filter(reason="reserve").count() == 1


def test_without_a_key_every_request_is_processed(station_client, recharge):
    recharge("T7442", 10)
    _add(station_client, None)
    _add(station_client, None)
    assert SendRecord.objects.count() == 2


def test_the_same_key_with_another_body_is_422(station_client, recharge):
    recharge("T7442", 10)
    _add(station_client, "k1")
    answer = _add(station_client, "k1", receive_phone="13100000002")
    assert answer.status_code == 422
    assert answer.json()["code"] == 1009 and "Idempotency-Key reused" in answer.json()["msg"]
    assert SendRecord.objects.count() == 1


def test_the_same_key_while_the_first_request_runs_is_409(station_client, recharge):
    recharge("T7442", 10)
    IdempotencyKey.objects.create(
        scope="client:token-1",
        path=ADD,
        key="k2",
        request_hash=idempotency.request_hash(seed_send_request()),
        locked_at=timezone.now(),
    )
    answer = _add(station_client, "k2")
    assert answer.status_code == 409 and answer.json()["code"] == 1007
    assert SendRecord.objects.count() == 0


def test_a_claim_whose_request_died_is_taken_over(station_client, recharge, settings):
    recharge("T7442", 10)
    IdempotencyKey.objects.create(
        scope="client:token-1",
        path=ADD,
        key="k3",
        request_hash=idempotency.request_hash(seed_send_request()),
        locked_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS + 1),
    )
    assert _add(station_client, "k3").status_code == 200
    assert SendRecord.objects.count() == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "订单", "a b"])
def test_a_malformed_key_is_400(station_client, recharge, key):
    recharge("T7442", 10)
    answer = _add(station_client, key)
    assert answer.status_code == 400 and answer.json()["code"] == 1002
    assert "Idempotency-Key" in answer.json()["msg"]
    assert SendRecord.objects.count() == 0


def test_a_refused_request_stores_nothing_and_a_retry_is_processed(station_client, recharge):
    """A request refused as a whole (here: no balance yet) changed nothing, so its key is not
    kept: the retry after a recharge goes through."""
    assert _add(station_client, "k4").json()["code"] == 1006
    recharge("T7442", 10)
    assert _add(station_client, "k4").json()["code"] == 0


def test_keys_are_the_callers_own(station_client, recharge, settings):
    settings.SMS_SERVICE_TOKENS = [SERVICE_TOKEN, "another-service-token"]
    recharge("T7442", 10)
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION="Bearer another-service-token")
    _add(station_client, "shared-key")
    assert "Idempotent-Replayed" not in _add(other, "shared-key")
    assert SendRecord.objects.count() == 2


def test_a_charge_replayed_moves_the_balance_once(basic_client, root_user, tenant):
    body = {"user": tenant.username, "charge": 100}
    headers = {"HTTP_IDEMPOTENCY_KEY": "charge-2026-11-25-001"}
    first = basic_client(root_user).post("/v2/charge", body, format="json", **headers)
    again = basic_client(root_user).post("/v2/charge", body, format="json", **headers)
    assert first.json() == again.json() == {"message": "ok", "balance": 100}
    assert TenantAccount.objects.get(user=tenant).balance_nums == 100
    other = basic_client(root_user).post("/v2/charge", {**body, "charge": 5}, format="json", **headers)
    assert other.status_code == 422 and other.json()["error"] == "ER:0035"


def test_a_tenant_message_replayed_is_one_batch(basic_client, tenant, root_user):
    sign = make_signature(tenant)
    template = make_template(tenant, sign)
    basic_client(root_user).post("/v2/charge", {"user": tenant.username, "charge": 10}, format="json")
    body = {"sign_id": sign.pk, "temp_id": template.pk, "mobiles": ["13100000001"], "params": ["112095", "5"]}
    with mock.patch("sms.sending.pipeline.publish_dispatch") as publish:
        first = basic_client(tenant).post("/v1/message", body, format="json", HTTP_IDEMPOTENCY_KEY="m1")
        again = basic_client(tenant).post("/v1/message", body, format="json", HTTP_IDEMPOTENCY_KEY="m1")
    assert first.json()["uuid"] == again.json()["uuid"]
    assert SendRecord.objects.count() == 1 and publish.call_count <= 1
    assert basic_client(tenant).get("/v1/balance").json() == {"balance": 9}


def test_expired_keys_are_purged(station_client, recharge, settings):
    recharge("T7442", 10)
    _add(station_client, "old")
    IdempotencyKey.objects.update(
        created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS + 1)
    )
    assert idempotency.purge_expired() == 1
    assert _add(station_client, "old").json()["data"]["task_id"] != SendRecord.objects.first().pk


@pytest.mark.django_db(transaction=True)
def test_identical_requests_at_the_same_instant_make_one_record(recharge):
    recharge("T7442", 100)

    def post(_: int) -> tuple[int, int | None]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {SERVICE_TOKEN}")
        try:
            answer = client.post(ADD, seed_send_request(), format="json", HTTP_IDEMPOTENCY_KEY="same-instant")
            return answer.status_code, (answer.json().get("data") or {}).get("task_id")
        finally:
            connection.close()

    # Patched once around the threads: mock.patch itself is not thread-safe.
    with mock.patch("sms.sending.pipeline.publish_dispatch"), ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(post, range(10)))
    assert SendRecord.objects.count() == 1
    task_ids = {task_id for status, task_id in answers if status == 200}
    assert task_ids == {SendRecord.objects.get().pk}
    assert {status for status, _ in answers} <= {200, 409}


def _run(key: str = "k", *, scope: str = "client:a", path: str = "/p", data=None, status: int = 201):
    """``run_once`` with a handler that answers ``status`` and counts its calls."""
    calls = []

    def handle() -> Response:
        calls.append(1)
        return Response({"n": len(calls)}, status=status)

    response, replayed = idempotency.run_once(
        scope=scope, path=path, key=key, data={"x": 1} if data is None else data, handle=handle
    )
    return response, replayed, len(calls)


def test_the_request_hash_is_sha256_of_canonical_json_so_stored_keys_outlive_an_upgrade():
    """Sorted keys, no spaces, UTF-8 as written, and what JSON cannot write as its text: the same
    body hashes the same in every version, so a retry after a deploy still replays."""
    body = {"mobiles": ["13100000001"], "content": "订单", "when": date(2026, 11, 25), "a": None}
    canonical = '{"a":null,"content":"订单","mobiles":["13100000001"],"when":"2026-11-25"}'
    assert idempotency.request_hash(body) == hashlib.sha256(canonical.encode()).hexdigest()
    assert idempotency.request_hash(dict(reversed(body.items()))) == idempotency.request_hash(body)


def test_a_malformed_key_is_refused_saying_what_a_key_is():
    with pytest.raises(idempotency.InvalidKey) as refused:
        idempotency.checked_key("a b")
    assert str(refused.value) == "Idempotency-Key must be 1 to 255 printable ASCII characters"


def test_a_replay_answers_the_stored_status_and_body():
    first, replayed, calls = _run()
    assert (first.status_code, replayed, calls) == (201, False, 1)
    response, replayed, calls = _run()
    assert (response.status_code, response.data, replayed, calls) == (201, {"n": 1}, True, 0)


def test_a_stored_answer_without_a_status_replays_as_200():
    _run()
    IdempotencyKey.objects.update(status_code=None)
    response, replayed, _ = _run()
    assert (response.status_code, replayed) == (200, True)


def test_a_key_is_one_per_caller_path_and_key():
    for scope, path, key in [
        ("client:a", "/p", "k"),
        ("client:b", "/p", "k"),
        ("client:a", "/q", "k"),
        ("client:a", "/p", "j"),
    ]:
        assert _run(key, scope=scope, path=path)[1:] == (False, 1)
    assert _run("k", scope="client:a", path="/p")[1:] == (True, 0)


def test_a_server_error_releases_the_key_so_a_retry_runs():
    other = IdempotencyKey.objects.create(
        scope="client:b", path="/p", key="k", request_hash="h", locked_at=timezone.now()
    )
    assert _run(status=500)[0].status_code == 500
    assert list(IdempotencyKey.objects.all()) == [other]  # another caller's claim in progress stays
    assert _run(status=200)[1:] == (False, 1)


def test_a_request_that_raises_releases_its_key_and_leaves_others_claims():
    other = IdempotencyKey.objects.create(
        scope="client:b", path="/p", key="k", request_hash="h", locked_at=timezone.now()
    )

    def fail() -> Response:
        raise RuntimeError("the view broke")

    with pytest.raises(RuntimeError):
        idempotency.run_once(scope="client:a", path="/p", key="k", data={"x": 1}, handle=fail)
    assert list(IdempotencyKey.objects.all()) == [other]


def _dead_claim(key: str = "k", *, locked_at=None) -> IdempotencyKey:
    return IdempotencyKey.objects.create(
        scope="client:a",
        path="/p",
        key=key,
        request_hash=idempotency.request_hash({"x": 1}),
        locked_at=locked_at or timezone.now() - timedelta(hours=1),
    )


def test_a_claim_exactly_as_old_as_the_lock_is_still_in_progress(settings):
    now = timezone.now()
    _dead_claim(locked_at=now - timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS))
    with (
        mock.patch.object(idempotency.timezone, "now", return_value=now),
        pytest.raises(idempotency.KeyInProgress),
    ):
        _run()


def test_taking_over_a_dead_claim_leaves_other_dead_claims_as_they_were():
    when = timezone.now() - timedelta(hours=1)
    _dead_claim("k", locked_at=when)
    other = _dead_claim("j", locked_at=when)
    assert _run("k")[1:] == (False, 1)
    other.refresh_from_db()
    assert other.locked_at == when


@pytest.mark.parametrize(
    "meanwhile",
    [{"locked_at": timezone.now()}, {"state": IdempotencyKey.DONE, "status_code": 201, "body": {"n": 1}}],
    ids=["taken-over-by-another-retry", "finished-by-its-first-request"],
)
def test_a_dead_claim_that_changed_since_it_was_read_is_not_taken_over(meanwhile):
    """Two retries may read the same dead claim; the one that writes second finds it changed
    (another retry took it over, or the first request finished after all) and does not run."""
    claim = _dead_claim()
    read = IdempotencyKey.objects.get

    def read_then_changed(**lookup):
        row = read(**lookup)
        IdempotencyKey.objects.filter(pk=claim.pk).update(**meanwhile)
        return row

    with mock.patch.object(IdempotencyKey.objects, "get", side_effect=read_then_changed):
        with pytest.raises(idempotency.KeyInProgress):
            _run()


def test_purging_keeps_keys_younger_than_the_ttl(settings):
    _run("old")
    _run("new")
    IdempotencyKey.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS + 1)
    )
    assert idempotency.purge_expired() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
