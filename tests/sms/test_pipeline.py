"""The pipeline's pieces: claiming, outcomes, early reports, sweeps, failover, backoff, rate limit."""

import copy
from datetime import timedelta
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from providers import ratelimit
from providers.base import DeliveryReport, OutcomeStatus, Region, ReportStatus, SendOutcome
from providers.gateway import GatewayAdapter
from sms.delivery import reports
from sms.models import (
    BalanceLedger,
    DailyStatistics,
    Lane,
    PendingReport,
    RecordState,
    SendRecord,
    SendStatus,
    Station,
)
from sms.sending import pipeline, routing, sweeps
from sms.station_api import services
from tests.support.factories import many_records

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(recharge):
    """Three queued station records of T7442 (balance 10, 3 reserved)."""
    station = recharge("T7442", 10)

    def make(count: int = 3) -> list[SendRecord]:
        records = []
        for index in range(count):
            record = services.create_station_send(
                station_id="T7442",
                receive_phone=f"1310000{index:02d}12",
                business_type=2,
                sms_content={"verify_code": "1234", "sms_signature": "去采购"},
            )
            SendRecord.objects.filter(pk=record.pk).update(state=RecordState.QUEUED)
            records.append(record)
        return records

    make.station = station
    return make


def test_a_record_is_claimed_once(queued):
    ids = [record.pk for record in queued()]
    first = pipeline.claim_dispatch(record_ids=ids, provider="tencent")
    second = pipeline.claim_dispatch(record_ids=ids, provider="tencent")
    assert len(first.records) == 3 and second.records == []
    assert set(SendRecord.objects.values_list("state", "attempts")) == {(RecordState.SENDING, 1)}


def test_refused_record_fails_and_is_refunded_exactly_once(queued):
    record = queued(1)[0]
    batch = pipeline.claim_dispatch(record_ids=[record.pk], provider="tencent")
    refusal = [SendOutcome(record.pk, OutcomeStatus.FAILED, code="FailedOperation.PhoneNumberInBlacklist")]
    assert pipeline.record_outcomes(provider="tencent", dispatch_id=batch.dispatch_id, outcomes=refusal) == 1
    assert pipeline.record_outcomes(provider="tencent", dispatch_id=batch.dispatch_id, outcomes=refusal) == 0
    assert pipeline.fail_records(records=[record], remark="again") == 0
    record.refresh_from_db()
    assert (record.state, record.refunded) == (RecordState.FAILED, True)
    assert BalanceLedger.objects.filter(reason="refund", ref=str(record.pk)).count() == 1
    assert Station.objects.get(station_id="T7442").balance_nums == 10


def test_report_that_overtakes_the_submit_is_applied_when_the_id_is_recorded(queued):
    record = queued(1)[0]
    batch = pipeline.claim_dispatch(record_ids=[record.pk], provider="tencent")
    early = DeliveryReport(provider="tencent", status=ReportStatus.DELIVERED, provider_message_id="sid-early")
    # A repeat in the same body is the same report: one kept, counted once.
    assert reports.apply_delivery_reports(provider="tencent", reports=[early, early]).unknown == 1
    assert PendingReport.objects.count() == 1
    pipeline.record_outcomes(
        provider="tencent",
        dispatch_id=batch.dispatch_id,
        outcomes=[SendOutcome(record.pk, OutcomeStatus.ACCEPTED, provider_message_id="sid-early")],
    )
    record.refresh_from_db()
    assert record.state == RecordState.DELIVERED
    assert not PendingReport.objects.exists()


def test_stale_queued_records_are_published_again(queued, django_capture_on_commit_callbacks):
    records = queued(2)
    SendRecord.objects.update(updated_at=timezone.now() - timedelta(minutes=5))
    with (
        mock.patch("sms.sending.pipeline.publish_dispatch") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sweeps.requeue_stale_queued(older_than=timedelta(seconds=60)) == 2
    assert sorted(delay.call_args.args[0]) == sorted(record.pk for record in records)
    with (
        mock.patch("sms.sending.pipeline.publish_dispatch") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sweeps.requeue_stale_queued(older_than=timedelta(seconds=60)) == 0


def test_stuck_sending_becomes_unknown_and_stays_billed_where_a_resend_could_duplicate(queued):
    records = queued(2)
    pipeline.claim_dispatch(record_ids=[r.pk for r in records], provider="tencent")
    SendRecord.objects.update(updated_at=timezone.now() - timedelta(minutes=5))
    assert sweeps.reconcile_stuck_sending(older_than=timedelta(seconds=60)) == (0, 2)
    assert set(SendRecord.objects.values_list("state", "remark", "refunded")) == {
        (RecordState.UNKNOWN, sweeps.STUCK_REMARK, False)
    }
    # The provider may have taken and billed them: not refunded until the settle deadline.
    assert Station.objects.get(station_id="T7442").balance_nums == 8


def test_a_stuck_gateway_dispatch_becomes_unknown_with_the_ids_its_reports_will_name(queued):
    """Seed 002 does not promise that the gateway refuses a repeated taskId: by default nothing
    is resent; the records carry ``"<taskId>:<mobile>"``, so a late push (or one kept while they
    were ``sending``) settles them by id."""
    records = queued(2)
    batch = pipeline.claim_dispatch(record_ids=[r.pk for r in records], provider="gateway")
    SendRecord.objects.update(updated_at=timezone.now() - timedelta(minutes=5))
    early = DeliveryReport(
        provider="gateway",
        status=ReportStatus.DELIVERED,
        provider_message_id=f"{batch.dispatch_id}:{records[0].receive_phone}",
    )
    assert reports.apply_delivery_reports(provider="gateway", reports=[early]).unknown == 1
    with mock.patch("sms.sending.pipeline.publish_dispatch") as publish:
        assert sweeps.reconcile_stuck_sending(older_than=timedelta(seconds=60)) == (0, 2)
    publish.assert_not_called()
    assert set(SendRecord.objects.values_list("state", "provider_message_id")) == {
        (RecordState.UNKNOWN, f"{batch.dispatch_id}:{record.receive_phone}") for record in records
    }
    assert reports.apply_pending_reports(provider="gateway") == 1
    assert SendRecord.objects.get(pk=records[0].pk).state == RecordState.DELIVERED
    assert "gateway" in sweeps.providers_to_pull()  # the pull covers the one still unknown


def test_stuck_sending_is_resent_under_its_dispatch_id_where_the_gateway_is_declared_to_refuse_repeats(
    queued, django_capture_on_commit_callbacks, settings
):
    providers = copy.deepcopy(settings.SMS_PROVIDERS)
    providers["gateway"]["refuses_repeated_task_id"] = True
    settings.SMS_PROVIDERS = providers
    records = queued(2)
    batch = pipeline.claim_dispatch(record_ids=[r.pk for r in records], provider="gateway")
    SendRecord.objects.update(updated_at=timezone.now() - timedelta(minutes=5))
    with (
        mock.patch("sms.sending.pipeline.publish_dispatch") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sweeps.reconcile_stuck_sending(older_than=timedelta(seconds=60)) == (2, 0)
    assert delay.call_args.args[1:] == ("gateway", [], batch.dispatch_id)
    resumed = pipeline.claim_dispatch(
        record_ids=[r.pk for r in records], provider="gateway", dispatch_id=batch.dispatch_id, resume=True
    )
    assert len(resumed.records) == 2


def test_unreported_records_become_unknown_after_the_deadline_without_refund(queued):
    record = queued(1)[0]
    SendRecord.objects.filter(pk=record.pk).update(
        state=RecordState.SUBMITTED, submitted_at=timezone.now() - timedelta(days=4)
    )
    assert sweeps.expire_unreported(older_than=timedelta(days=3)) == 1
    record.refresh_from_db()
    assert (record.state, record.status, record.remark, record.refunded) == (
        RecordState.UNKNOWN,
        SendStatus.SENDING,
        sweeps.NO_REPORT_REMARK,
        False,
    )
    assert Station.objects.get(station_id="T7442").balance_nums == 9


def test_failover_skips_template_only_providers_for_free_text(settings):
    settings.SMS_FAILOVER_MAINLAND = ["gateway", "tencent", "fw199", "sjroom"]
    text = routing.BatchNeeds(frozenset({Region.MAINLAND}), needs_text=True)
    station = routing.BatchNeeds(frozenset({Region.MAINLAND}), business_types=frozenset({2}))
    assert routing.next_provider("gateway", [], needs=text) is None  # sjroom serves no +86 number
    assert routing.next_provider("gateway", [], needs=station) == "tencent"
    assert routing.next_provider("gateway", ["tencent", "fw199", "sjroom"], needs=station) is None


def test_backoff_grows_and_is_capped(settings):
    settings.SMS_RETRY_BASE_SECONDS, settings.SMS_RETRY_MAX_SECONDS = 1.0, 8.0
    for attempt, ceiling in [(0, 1), (1, 2), (2, 4), (3, 8), (9, 8)]:
        delays = [pipeline.retry_delay(attempt) for _ in range(200)]
        assert 0 <= min(delays) and max(delays) <= ceiling
        assert max(delays) > ceiling / 2  # full jitter spreads over the whole window


@pytest.mark.worker
def test_rate_limit_books_slots_and_puts_off_a_burst(settings):
    import redis

    redis.Redis.from_url(settings.REDIS_URL).delete("ratelimit:gateway")
    settings.SMS_PROVIDERS = {
        **settings.SMS_PROVIDERS,
        "gateway": {**settings.SMS_PROVIDERS["gateway"], "rate_per_second": 100},
    }
    assert ratelimit.reserve("gateway", 100, max_wait=2.0) == (True, 0.0)
    booked, wait = ratelimit.reserve("gateway", 100, max_wait=2.0)
    assert booked and 0.9 < wait <= 1.0
    booked, wait = ratelimit.reserve("gateway", 100, max_wait=1.5)
    assert not booked and 1.5 < wait <= 2.0


def test_a_dispatch_larger_than_this_workers_batch_limit_is_split_and_nothing_is_claimed(
    queued, settings, django_capture_on_commit_callbacks
):
    """A task published where the limit was larger (a deploy in progress) is split here, rather
    than claimed and left ``sending`` by an adapter that refuses it."""
    ids = [record.pk for record in queued(3)]
    providers = {**settings.SMS_PROVIDERS, "tencent": {**settings.SMS_PROVIDERS["tencent"], "batch_limit": 2}}
    settings.SMS_PROVIDERS = providers
    with (
        mock.patch("sms.sending.pipeline.publish_dispatch") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = pipeline.dispatch(record_ids=ids, provider="tencent", attempt=0, tried=[])
    assert result.sent == 0
    assert [call.args[0] for call in publish.call_args_list] == [ids[:2], ids[2:]]
    # on the lane it came from, under its sender (a bulk chunk waits its sender's turns again)
    assert {(call.kwargs["lane"], call.kwargs["sender"]) for call in publish.call_args_list} == {
        (Lane.TRANSACTIONAL, "station:T7442")
    }
    assert set(SendRecord.objects.values_list("state", flat=True)) == {RecordState.QUEUED}


def _outcome_updates(captured) -> list[str]:
    table = connection.ops.quote_name(SendRecord._meta.db_table)
    return [
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].startswith(f"UPDATE {table}") and "provider_message_id" in query["sql"]
    ]


# How the backend writes Concat: MySQL's CONCAT(), SQLite's || operator.
CONCAT = "||" if connection.vendor == "sqlite" else "CONCAT"


def test_message_ids_of_the_form_the_adapter_declares_are_derived_in_one_update(queued):
    records = queued(3)
    batch = pipeline.claim_dispatch(record_ids=[record.pk for record in records], provider="gateway")
    ids = GatewayAdapter.message_ids
    outcomes = [
        SendOutcome(
            record.pk,
            OutcomeStatus.ACCEPTED,
            provider_message_id=ids.message_id(batch.dispatch_id, record.receive_phone),
        )
        for record in records
    ]
    with CaptureQueriesContext(connection) as captured:
        pipeline.record_outcomes(provider="gateway", dispatch_id=batch.dispatch_id, outcomes=outcomes)
    [update] = _outcome_updates(captured)
    assert CONCAT in update.upper() and "CASE" not in update.upper()
    stored = dict(SendRecord.objects.values_list("id", "provider_message_id"))
    assert stored == {record.pk: f"{batch.dispatch_id}:{record.receive_phone}" for record in records}


def test_message_ids_a_provider_issues_are_written_per_row_in_one_update(queued):
    records = queued(3)
    batch = pipeline.claim_dispatch(record_ids=[record.pk for record in records], provider="tencent")
    outcomes = [
        # Of the gateway's form, but Tencent declares none: nothing is derived for it.
        SendOutcome(
            record.pk,
            OutcomeStatus.ACCEPTED,
            provider_message_id=f"{batch.dispatch_id}:{record.receive_phone}",
        )
        for record in records
    ]
    with CaptureQueriesContext(connection) as captured:
        pipeline.record_outcomes(provider="tencent", dispatch_id=batch.dispatch_id, outcomes=outcomes)
    [update] = _outcome_updates(captured)
    assert "CASE" in update.upper() and CONCAT not in update.upper()
    stored = dict(SendRecord.objects.values_list("id", "provider_message_id"))
    assert stored == {record.pk: f"{batch.dispatch_id}:{record.receive_phone}" for record in records}


def test_failing_records_no_provider_took_refunds_them_with_the_reason_and_code(queued):
    coded, plain = queued(2)
    assert pipeline.fail_records(records=[coded], remark="no provider available", code="E9") == 1
    assert pipeline.fail_records(records=[plain], remark="no provider available") == 1
    rows = SendRecord.objects.order_by("id").values_list(
        "state", "status", "remark", "provider_code", "refunded"
    )
    assert list(rows) == [
        (RecordState.FAILED, SendStatus.FAILED, "E9: no provider available", "E9", True),
        (RecordState.FAILED, SendStatus.FAILED, "no provider available", "", True),
    ]
    assert Station.objects.get(station_id="T7442").balance_nums == 10  # both given back


def test_records_never_started_fail_refunded_with_their_reason_cut_to_the_column(recharge):
    recharge("T7442", 10)
    records = [
        services.create_station_send(
            station_id="T7442",
            receive_phone=f"1310000{index:02d}12",
            business_type=2,
            sms_content={"verify_code": "1234", "sms_signature": "去采购"},
        )
        for index in range(2)
    ]
    assert pipeline.fail_unstarted(records, remark="x" * 300, code="CANCELLED") == 2
    rows = SendRecord.objects.values_list("state", "status", "remark", "provider_code", "refunded")
    assert set(rows) == {(RecordState.FAILED, SendStatus.FAILED, "x" * 255, "CANCELLED", True)}
    assert SendRecord.objects.filter(finished_at__isnull=False).count() == 2
    assert Station.objects.get(station_id="T7442").balance_nums == 10


def test_a_dispatch_put_back_is_queued_again_only_for_its_own_records_still_sending(queued):
    mine, done, other = queued(3)
    dispatch = pipeline.claim_dispatch(record_ids=[mine.pk, done.pk], provider="tencent")
    pipeline.claim_dispatch(record_ids=[other.pk], provider="tencent")
    SendRecord.objects.filter(pk=done.pk).update(state=RecordState.SUBMITTED)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    SendRecord.objects.update(updated_at=an_hour_ago)
    dispatch.records.append(other)  # a record of another dispatch is never put back by this one
    assert pipeline.requeue_dispatch(dispatch=dispatch) == 1
    states = dict(SendRecord.objects.values_list("id", "state"))
    assert states == {
        mine.pk: RecordState.QUEUED,
        done.pk: RecordState.SUBMITTED,
        other.pk: RecordState.SENDING,
    }
    assert SendRecord.objects.get(pk=mine.pk).updated_at > an_hour_ago


def test_an_answer_written_again_passes_the_same_answer_and_backs_off_more_each_time(settings):
    settings.SMS_OUTCOME_RETRY_SECONDS = 60
    down = OperationalError(2006, "MySQL server has gone away")
    outcomes = [SendOutcome(1, OutcomeStatus.ACCEPTED, provider_message_id="m1")]
    with (
        mock.patch.object(pipeline, "record_outcomes", side_effect=[down, down, 1]) as record,
        mock.patch.object(pipeline, "backoff_seconds", return_value=0) as backoff,
        mock.patch.object(pipeline.time, "sleep"),
    ):
        assert pipeline.record_outcomes_durably(provider="gateway", dispatch_id="d1", outcomes=outcomes) == 1
    assert record.call_args_list == [mock.call(provider="gateway", dispatch_id="d1", outcomes=outcomes)] * 3
    assert backoff.call_args_list == [mock.call(1, cap=5), mock.call(2, cap=5)]


def test_where_acceptance_is_the_final_word_an_accepted_record_is_delivered_and_counted(queued):
    record = queued(1)[0]
    batch = pipeline.claim_dispatch(record_ids=[record.pk], provider="fw199")
    accepted = [SendOutcome(record.pk, OutcomeStatus.ACCEPTED, provider_message_id="o1")]
    assert pipeline.record_outcomes(provider="fw199", dispatch_id=batch.dispatch_id, outcomes=accepted) == 1
    record.refresh_from_db()
    assert (record.state, record.status, record.provider_message_id) == (
        RecordState.DELIVERED,
        SendStatus.SUCCESS,
        "o1",
    )
    assert record.finished_at is not None
    assert DailyStatistics.objects.get(station_id="T7442").success_send_nums == 1


def test_an_answer_writes_each_records_own_id_and_none_for_the_refused(queued):
    gateway_ids = GatewayAdapter.message_ids
    for provider in ("gateway", "tencent"):
        taken, refused = queued(2)
        batch = pipeline.claim_dispatch(record_ids=[taken.pk, refused.pk], provider=provider)
        taken_id = (
            gateway_ids.message_id(batch.dispatch_id, taken.receive_phone) if provider == "gateway" else "s1"
        )
        an_hour_ago = timezone.now() - timedelta(hours=1)
        SendRecord.objects.filter(pk__in=[taken.pk, refused.pk]).update(updated_at=an_hour_ago)
        outcomes = [
            SendOutcome(taken.pk, OutcomeStatus.ACCEPTED, provider_message_id=taken_id),
            SendOutcome(refused.pk, OutcomeStatus.FAILED, code="E1"),
        ]
        pipeline.record_outcomes(provider=provider, dispatch_id=batch.dispatch_id, outcomes=outcomes)
        rows = dict(
            SendRecord.objects.filter(pk__in=[taken.pk, refused.pk]).values_list("id", "provider_message_id")
        )
        assert rows == {taken.pk: taken_id, refused.pk: None}, provider
        assert not SendRecord.objects.filter(
            pk__in=[taken.pk, refused.pk], updated_at__lte=an_hour_ago
        ).exists()


def test_a_refusal_fails_the_record_with_the_providers_words_and_counts_it(queued):
    coded, bare = queued(2)
    batch = pipeline.claim_dispatch(record_ids=[coded.pk, bare.pk], provider="tencent")
    outcomes = [
        SendOutcome(coded.pk, OutcomeStatus.FAILED, code="C" * 70, description="blacklisted"),
        SendOutcome(bare.pk, OutcomeStatus.FAILED),
    ]
    assert pipeline.record_outcomes(provider="tencent", dispatch_id=batch.dispatch_id, outcomes=outcomes) == 2
    rows = SendRecord.objects.order_by("id").values_list("state", "status", "provider_code", "remark")
    assert list(rows) == [
        (RecordState.FAILED, SendStatus.FAILED, "C" * 64, "C" * 70 + ": blacklisted"),
        (RecordState.FAILED, SendStatus.FAILED, "", "refused"),
    ]
    assert SendRecord.objects.filter(finished_at__isnull=False).count() == 2
    assert DailyStatistics.objects.get(station_id="T7442").send_failed_nums == 2


def test_a_late_answer_for_an_earlier_dispatch_of_a_record_changes_nothing(queued):
    record = queued(1)[0]
    first = pipeline.claim_dispatch(record_ids=[record.pk], provider="tencent")
    pipeline.requeue_dispatch(dispatch=first)
    second = pipeline.claim_dispatch(record_ids=[record.pk], provider="tencent")
    late = [SendOutcome(record.pk, OutcomeStatus.FAILED, code="E1")]
    assert pipeline.record_outcomes(provider="tencent", dispatch_id=first.dispatch_id, outcomes=late) == 0
    record.refresh_from_db()
    assert (record.state, record.dispatch_id) == (RecordState.SENDING, second.dispatch_id)


def test_an_answer_for_more_records_than_one_in_list_applies_to_every_record(recharge):
    from sms.core.bulk import IN_LIST_LIMIT

    recharge("T7442", IN_LIST_LIMIT + 1)
    count = IN_LIST_LIMIT + 1
    many_records(count, state=RecordState.SENDING, provider="tencent", dispatch_id="d1")
    outcomes = [
        SendOutcome(pk, OutcomeStatus.ACCEPTED, provider_message_id=f"s{pk}")
        for pk in SendRecord.objects.values_list("id", flat=True)
    ]
    assert pipeline.record_outcomes(provider="tencent", dispatch_id="d1", outcomes=outcomes) == count
    assert SendRecord.objects.filter(state=RecordState.SUBMITTED).count() == count


def test_marking_unknown_changes_only_the_named_records_still_in_the_expected_state(
    queued, django_capture_on_commit_callbacks
):
    from sms.core import metrics

    named, delivered, other = queued(3)
    pipeline.claim_dispatch(record_ids=[named.pk, delivered.pk, other.pk], provider="tencent")
    SendRecord.objects.filter(pk=delivered.pk).update(state=RecordState.DELIVERED)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    SendRecord.objects.update(updated_at=an_hour_ago)
    before = metrics.RECORDS_UNKNOWN._value.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.mark_unknown(records=[named, delivered], remark="r" * 300) == 1
    assert metrics.RECORDS_UNKNOWN._value.get() - before == 1
    states = dict(SendRecord.objects.values_list("id", "state"))
    assert states == {
        named.pk: RecordState.UNKNOWN,
        delivered.pk: RecordState.DELIVERED,
        other.pk: RecordState.SENDING,
    }
    named.refresh_from_db()
    assert (named.remark, named.refunded) == ("r" * 255, False)
    assert named.unknown_at is not None and named.updated_at > an_hour_ago


def test_marking_more_records_unknown_than_one_in_list_counts_them_all(recharge):
    from sms.core.bulk import IN_LIST_LIMIT

    count = IN_LIST_LIMIT + 1
    many_records(count, state=RecordState.SENDING, provider="tencent", dispatch_id="d1")
    assert (
        pipeline.mark_unknown(records=list(SendRecord.objects.all()), remark="r", dispatch_id="d1") == count
    )


def test_resuming_a_dispatch_takes_back_only_its_records_still_sending(queued):
    sending, submitted, elsewhere = queued(3)
    dispatch = pipeline.claim_dispatch(record_ids=[sending.pk, submitted.pk], provider="gateway")
    pipeline.claim_dispatch(record_ids=[elsewhere.pk], provider="gateway")
    SendRecord.objects.filter(pk=submitted.pk).update(state=RecordState.SUBMITTED)
    ids = [sending.pk, submitted.pk, elsewhere.pk]
    again = pipeline.claim_dispatch(
        record_ids=ids, provider="gateway", dispatch_id=dispatch.dispatch_id, resume=True
    )
    assert [record.pk for record in again.records] == [sending.pk]


def test_a_claim_of_more_records_than_one_in_list_takes_them_all_and_stamps_them(recharge):
    from sms.core.bulk import IN_LIST_LIMIT

    count = IN_LIST_LIMIT + 1
    many_records(count, state=RecordState.QUEUED)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    SendRecord.objects.update(updated_at=an_hour_ago)
    ids = list(SendRecord.objects.values_list("id", flat=True))
    assert len(pipeline.claim_dispatch(record_ids=ids, provider="tencent").records) == count
    assert SendRecord.objects.filter(state=RecordState.SENDING, updated_at__gt=an_hour_ago).count() == count


def test_an_answer_applies_the_kept_reports_of_its_own_records_only(queued):
    taken, caught_up = queued(2)
    reports.apply_delivery_reports(
        provider="tencent",
        reports=[
            DeliveryReport(provider="tencent", provider_message_id=m, status=ReportStatus.DELIVERED)
            for m in ("s1", "s9")
        ],
    )
    # Caught up with its kept report, which the sweep applies, not this answer.
    SendRecord.objects.filter(pk=caught_up.pk).update(
        provider="tencent", provider_message_id="s9", state=RecordState.SUBMITTED
    )
    batch = pipeline.claim_dispatch(record_ids=[taken.pk], provider="tencent")
    accepted = [SendOutcome(taken.pk, OutcomeStatus.ACCEPTED, provider_message_id="s1")]
    pipeline.record_outcomes(provider="tencent", dispatch_id=batch.dispatch_id, outcomes=accepted)
    assert SendRecord.objects.get(pk=taken.pk).state == RecordState.DELIVERED
    assert list(PendingReport.objects.values_list("provider_message_id", flat=True)) == ["s9"]


def test_an_answer_that_cannot_be_written_is_retried_with_a_warning_until_the_deadline(settings, caplog):
    settings.SMS_OUTCOME_RETRY_SECONDS = 0
    down = OperationalError(2006, "MySQL server has gone away")
    outcomes = [SendOutcome(1, OutcomeStatus.ACCEPTED, provider_message_id="m1")]
    with (
        mock.patch.object(pipeline, "record_outcomes", side_effect=[down, 1]),
        mock.patch.object(pipeline.time, "sleep"),
        mock.patch.object(pipeline.time, "monotonic", return_value=100.0),
        pytest.raises(OperationalError),
    ):
        pipeline.record_outcomes_durably(provider="gateway", dispatch_id="d1", outcomes=outcomes)
    settings.SMS_OUTCOME_RETRY_SECONDS = 60
    with (
        mock.patch.object(pipeline, "record_outcomes", side_effect=[down, 1]),
        mock.patch.object(pipeline.time, "sleep"),
        caplog.at_level("WARNING", logger="sms.sending.pipeline"),
    ):
        assert pipeline.record_outcomes_durably(provider="gateway", dispatch_id="d1", outcomes=outcomes) == 1
    assert "gateway: writing 1 outcome(s) failed (OperationalError), retrying" in caplog.messages


# --- a dispatch interrupted before its provider request ------------------------------------------

DB_LOST = OperationalError(2013, "Lost connection to server during query")


def _claim_then_lose_the_answer(real_claim):
    """The claim's COMMIT reaches the server and its answer is lost with the connection."""

    def claim(**kwargs):
        real_claim(**kwargs)
        raise DB_LOST

    return claim


def test_a_claim_whose_commit_answer_was_lost_is_taken_back_by_the_retry_and_sent_once(queued, settings):
    from tests.support.simulator import running_simulator

    ids = [record.pk for record in queued()]
    with running_simulator(settings) as simulator:
        with (
            mock.patch.object(
                pipeline, "claim_dispatch", _claim_then_lose_the_answer(pipeline.claim_dispatch)
            ),
            pytest.raises(pipeline.ClaimInterrupted) as interrupted,
        ):
            pipeline.dispatch(record_ids=ids, provider="gateway", attempt=0, tried=[])
        assert isinstance(interrupted.value.__cause__, OperationalError)
        # Claimed, never handed over: what the stuck sweep would have called unknown.
        assert set(SendRecord.objects.values_list("state", "dispatch_id")) == {
            (RecordState.SENDING, interrupted.value.dispatch_id)
        }
        assert simulator.stats().get("gateway", {}).get("numbers", 0) == 0
        result = pipeline.dispatch(
            record_ids=ids,
            provider="gateway",
            attempt=0,
            tried=[],
            retake_dispatch_id=interrupted.value.dispatch_id,
        )
        assert result.sent == 3
        assert set(SendRecord.objects.values_list("state", flat=True)) == {RecordState.SUBMITTED}
        stats = simulator.stats()["gateway"]
        assert (stats["numbers"], stats["distinct_numbers"]) == (3, 3)


def test_a_retake_takes_back_only_its_own_dispatchs_records(queued):
    first, second = queued(2)
    claimed = pipeline.claim_dispatch(record_ids=[first.pk], provider="gateway")
    other = pipeline.claim_dispatch(record_ids=[second.pk], provider="gateway")
    assert pipeline.requeue_unsent(record_ids=[first.pk, second.pk], dispatch_id=claimed.dispatch_id) == 1
    states = dict(SendRecord.objects.values_list("pk", "state"))
    assert states == {first.pk: RecordState.QUEUED, second.pk: RecordState.SENDING}
    assert other.dispatch_id != claimed.dispatch_id


def test_a_database_error_after_the_provider_request_is_not_a_claim_interruption(queued, settings):
    """Once a provider may hold the records, an error is never turned into a retake (which would
    send them again)."""
    from tests.support.simulator import running_simulator

    ids = [record.pk for record in queued(1)]
    settings.SMS_OUTCOME_RETRY_SECONDS = 0
    with running_simulator(settings) as simulator:
        with (
            mock.patch.object(pipeline, "record_outcomes", side_effect=DB_LOST),
            pytest.raises(OperationalError),
        ):
            pipeline.dispatch(record_ids=ids, provider="gateway", attempt=0, tried=[])
        assert simulator.stats()["gateway"]["numbers"] == 1


def test_the_task_retries_an_interrupted_claim_with_its_id_to_take_back(monkeypatch):
    from celery.exceptions import Retry

    from sms import tasks

    monkeypatch.setattr(pipeline, "dispatch", mock.Mock(side_effect=pipeline.ClaimInterrupted("d-lost")))
    with mock.patch("celery.app.task.Task.retry", side_effect=Retry()) as retry:
        result = tasks.dispatch_records.apply(args=([1, 2], "gateway", [], None))
    assert result.state == "RETRY"
    assert retry.call_args.kwargs["kwargs"] == {
        "infra_attempt": 1,
        "lane": Lane.TRANSACTIONAL,
        "retake_dispatch_id": "d-lost",
    }


def test_a_bulk_turn_interrupted_before_its_request_hands_on_the_id_to_take_back(monkeypatch):
    from sms import tasks
    from sms.sending import fairness

    payload = {"record_ids": [1, 2], "provider": "gateway", "tried": [], "resume_dispatch_id": None}
    monkeypatch.setattr(fairness, "next_turn", lambda: payload)
    monkeypatch.setattr(pipeline, "dispatch", mock.Mock(side_effect=pipeline.ClaimInterrupted("d-lost")))
    with mock.patch.object(tasks.dispatch_records, "apply_async") as handed_on:
        assert tasks.dispatch_bulk_turn.apply().get() == 0
    assert handed_on.call_args.args[1] == {
        "infra_attempt": 1,
        "lane": Lane.BULK,
        "retake_dispatch_id": "d-lost",
    }
