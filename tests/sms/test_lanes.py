"""Lanes (sms.sending.lanes), the bulk lane's turns (sms.sending.fairness) and the priority lane's
rate headroom (providers.ratelimit), against the real Redis; workers end to end are in
tests/e2e/test_lanes.py."""

from datetime import timedelta
from unittest import mock

import pytest
import redis
from django.utils import timezone

from providers import ratelimit
from sms import tasks
from sms.models import Lane, SendRecord, TenantAccount
from sms.sending import fairness, lanes, pipeline, sweeps
from templates_mgmt.models import TemplateType
from tests.support.backends import needs_redis
from tests.support.platform import make_signature, make_template

pytestmark = pytest.mark.django_db

PARKING = needs_redis(
    "the bulk lane parks each sender's batches in Redis; without it a bulk batch is published "
    "directly (test_without_redis_a_bulk_batch_is_published_directly_on_the_bulk_queue)"
)
RATE_LIMIT = needs_redis("a provider's rate limit is booked in Redis; without it there is none")


@pytest.fixture(autouse=True)
def _empty_ring():
    fairness.purge()
    yield
    fairness.purge()


@pytest.fixture
def sent_tasks():
    """What the pipeline publishes, by task name and queue, instead of publishing it."""
    with mock.patch("sms.core.broker.current_app.send_task") as send_task:
        yield send_task


def _published(send_task) -> list[tuple[str, str, int | None]]:
    return [
        (call.args[0], call.kwargs["queue"], (call.kwargs.get("kwargs") or {}).get("lane"))
        for call in send_task.call_args_list
    ]


# --- which lane a record is written with ------------------------------------------------------------


@pytest.mark.parametrize(
    ("business_type", "lane"),
    [(2, Lane.PRIORITY), (0, Lane.TRANSACTIONAL), (1, Lane.TRANSACTIONAL)],
)
def test_a_station_verify_code_takes_the_priority_lane_and_order_messages_the_transactional(
    recharge, add_record, station_client, sent_tasks, business_type, lane, django_capture_on_commit_callbacks
):
    recharge()
    content = {"verify_code": "112095"} if business_type == 2 else {"order_id": "PL123456"}
    record = add_record(business_type=business_type, sms_content={**content, "sms_signature": "去采购"})
    assert record.lane == lane
    with django_capture_on_commit_callbacks(execute=True):
        station_client.post("/sms/send/start", {"task_id": record.pk}, format="json")
    assert _published(sent_tasks) == [(pipeline.DISPATCH_TASK, lanes.LANE_QUEUES[lane], lane)]


@pytest.mark.parametrize(
    ("template_type", "recipients", "lane"),
    [
        (TemplateType.VERIFICATION, 1, Lane.PRIORITY),
        (TemplateType.NOTICE, 100, Lane.TRANSACTIONAL),
        (TemplateType.NOTICE, 101, Lane.BULK),
        # a blast labelled as verify codes does not fill the priority lane
        (TemplateType.VERIFICATION, 101, Lane.BULK),
        (TemplateType.MARKETING, 1, Lane.BULK),
    ],
)
def test_a_tenant_message_s_lane_is_its_size_then_its_template_type(template_type, recipients, lane):
    assert lanes.tenant_lane(template_type=template_type, recipients=recipients) == lane


def _tenant_send(client, tenant, root_user, basic_client, *, count: int, template_type: int):
    sign = make_signature(tenant)
    body = "您的验证码为{1}，{2}分钟内有效。" if template_type == TemplateType.VERIFICATION else "通知{1}{2}"
    template = make_template(tenant, sign, template=body, template_type=template_type)
    basic_client(root_user).post("/v2/charge", {"user": tenant.username, "charge": 1000}, format="json")
    mobiles = [f"131{index:08d}" for index in range(count)]
    response = client.post(
        "/v1/message",
        {"sign_id": sign.pk, "temp_id": template.pk, "mobiles": mobiles, "params": ["112095", "5"]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    return SendRecord.objects.filter(batch__uuid=response.json()["uuid"])


def test_a_tenant_verify_code_is_written_and_published_on_the_priority_lane(
    basic_client, tenant, root_user, sent_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        records = _tenant_send(
            basic_client(tenant),
            tenant,
            root_user,
            basic_client,
            count=1,
            template_type=TemplateType.VERIFICATION,
        )
    assert {record.lane for record in records} == {Lane.PRIORITY}
    assert _published(sent_tasks) == [(pipeline.DISPATCH_TASK, "sms_priority", Lane.PRIORITY)]


@PARKING
def test_a_tenant_message_over_the_threshold_is_parked_under_its_tenant_and_gets_one_turn_per_batch(
    basic_client, tenant, root_user, settings, sent_tasks, django_capture_on_commit_callbacks
):
    settings.SMS_BULK_LANE_THRESHOLD = 3
    settings.SMS_PROVIDERS = {
        name: {**config, "batch_limit": 2} for name, config in settings.SMS_PROVIDERS.items()
    }
    with django_capture_on_commit_callbacks(execute=True):
        records = _tenant_send(
            basic_client(tenant), tenant, root_user, basic_client, count=5, template_type=TemplateType.NOTICE
        )
    assert {record.lane for record in records} == {Lane.BULK}
    # 5 records in batches of 2: three batches parked, three turns on the bulk queue.
    assert fairness.waiting() == {lanes.tenant_sender(TenantAccount.objects.get(user=tenant).pk): 3}
    assert _published(sent_tasks) == [(fairness.TURN_TASK, "sms_bulk", None)] * 3


def test_without_redis_a_bulk_batch_is_published_directly_on_the_bulk_queue(settings, sent_tasks):
    settings.REDIS_URL = ""  # the embedded default: no Redis to park in
    pipeline.publish_dispatch([1, 2], "gateway", [], None, lane=Lane.BULK, sender="tenant:1")
    assert _published(sent_tasks) == [(pipeline.DISPATCH_TASK, "sms_bulk", Lane.BULK)]


# --- the bulk lane's turns ----------------------------------------------------------------------------


def _park(sender: str, *batches: int) -> None:
    for batch in batches:
        fairness.park(sender=sender, payload={"record_ids": [batch]})


@PARKING
def test_senders_take_turns_batch_by_batch_whatever_the_depth_of_their_queues():
    _park("tenant:1", 1, 2, 3, 4, 5)
    _park("tenant:2", 10)
    _park("tenant:1", 6)
    _park("tenant:3", 20, 21)
    order = []
    while (payload := fairness.next_turn()) is not None:
        order.append(payload["record_ids"][0])
    # The newcomer's one batch goes out second, after one batch of the sender ahead of it.
    assert order == [1, 10, 20, 2, 21, 3, 4, 5, 6]
    assert fairness.waiting() == {}


@PARKING
def test_a_sender_that_comes_back_after_draining_joins_the_back_of_the_ring():
    _park("tenant:1", 1, 2)
    _park("tenant:2", 10)
    assert fairness.next_turn()["record_ids"] == [1]
    assert fairness.next_turn()["record_ids"] == [10]
    _park("tenant:2", 11)
    assert [fairness.next_turn()["record_ids"][0] for _ in range(2)] == [2, 11]
    assert fairness.next_turn() is None


@PARKING
def test_a_sender_whose_parked_batches_expired_is_skipped(settings):
    _park("tenant:1", 1)
    _park("tenant:2", 10)
    redis.Redis.from_url(settings.REDIS_URL).delete(fairness.QUEUE_PREFIX + "tenant:1")
    assert fairness.next_turn()["record_ids"] == [10]
    assert fairness.next_turn() is None


@PARKING
def test_a_turn_sends_the_parked_batch_on_the_bulk_lane_and_a_retry_stays_on_the_bulk_queue():
    fairness.park(
        sender="tenant:7",
        payload={"record_ids": [5, 6], "provider": "gateway", "tried": [], "resume_dispatch_id": None},
    )
    result = pipeline.DispatchResult(retry_in=1.5)
    with (
        mock.patch.object(pipeline, "dispatch", return_value=result) as dispatch,
        mock.patch.object(tasks.dispatch_records, "apply_async") as retry,
    ):
        tasks.dispatch_bulk_turn.apply()
    dispatch.assert_called_once_with(
        record_ids=[5, 6], provider="gateway", attempt=0, tried=[], resume_dispatch_id=None, lane=Lane.BULK
    )
    retry.assert_called_once_with(
        ([5, 6], "gateway", [], None), {"lane": Lane.BULK}, countdown=1.5, retries=1, queue="sms_bulk"
    )


def test_a_turn_with_nothing_parked_sends_nothing():
    with mock.patch.object(pipeline, "dispatch") as dispatch:
        assert tasks.dispatch_bulk_turn.apply().get() == 0
    dispatch.assert_not_called()


# --- provider capacity shared by priority -------------------------------------------------------------


@pytest.fixture
def slow_gateway(settings):
    """The gateway at 10 messages a second, its schedule empty."""
    redis.Redis.from_url(settings.REDIS_URL).delete("ratelimit:gateway")
    settings.SMS_PROVIDERS = {
        **settings.SMS_PROVIDERS,
        "gateway": {**settings.SMS_PROVIDERS["gateway"], "rate_per_second": 10},
    }
    settings.SMS_RATE_LIMIT_MAX_WAIT = 2.0
    settings.SMS_PRIORITY_RATE_HEADROOM_SECONDS = 3.0
    yield
    redis.Redis.from_url(settings.REDIS_URL).delete("ratelimit:gateway")


@RATE_LIMIT
def test_a_verify_code_starts_at_once_while_a_blast_has_booked_the_provider_ahead(slow_gateway):
    assert ratelimit.reserve("gateway", 20) == (True, 0.0)  # the blast books 2 s of the provider
    booked, wait = ratelimit.reserve("gateway", 5)
    assert booked and 1.9 < wait <= 2.0  # the blast's next batch waits its turn
    assert ratelimit.reserve("gateway", 1, priority=True) == (True, 0.0)


@RATE_LIMIT
def test_the_blast_makes_up_for_the_verify_codes_never_the_other_way_round(slow_gateway):
    assert ratelimit.reserve("gateway", 15) == (True, 0.0)
    for _ in range(5):  # verify codes: 0.5 s of the provider, each starting at once
        assert ratelimit.reserve("gateway", 1, priority=True) == (True, 0.0)
    # 1.5 s booked by the blast and 0.5 s by the codes: the blast's next batch waits for both.
    booked, wait = ratelimit.reserve("gateway", 1)
    assert booked and 1.9 < wait <= 2.0
    booked, wait = ratelimit.reserve("gateway", 1)
    assert not booked and wait > 2.0


@RATE_LIMIT
def test_verify_codes_beyond_the_headroom_wait_too(slow_gateway):
    assert ratelimit.reserve("gateway", 40, max_wait=10) == (True, 0.0)  # 4 s booked
    booked, wait = ratelimit.reserve("gateway", 1, priority=True)
    assert booked and 0.9 < wait <= 1.0  # 4 s ahead, less 3 s of headroom


# --- the re-dispatch sweep and the bulk lane -----------------------------------------------------------


@PARKING
def test_the_sweep_leaves_a_tenant_s_bulk_records_alone_while_it_has_batches_parked(
    basic_client, tenant, root_user, settings, sent_tasks, django_capture_on_commit_callbacks
):
    settings.SMS_BULK_LANE_THRESHOLD = 1
    with django_capture_on_commit_callbacks(execute=True):
        records = _tenant_send(
            basic_client(tenant), tenant, root_user, basic_client, count=2, template_type=TemplateType.NOTICE
        )
    records.update(updated_at=timezone.now() - timedelta(hours=1))
    assert fairness.waiting()  # the blast's batch waits its turn: not lost
    with django_capture_on_commit_callbacks(execute=True):
        assert sweeps.requeue_stale_queued(older_than=timedelta(seconds=60)) == 0
    fairness.next_turn()  # its turn came, and the worker died with it
    with django_capture_on_commit_callbacks(execute=True):
        assert sweeps.requeue_stale_queued(older_than=timedelta(seconds=60)) == 2
    assert fairness.waiting() == {lanes.tenant_sender(TenantAccount.objects.get(user=tenant).pk): 1}
