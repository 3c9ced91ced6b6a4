"""Validity periods: a message not handed to a provider within its validity fails ``EXPIRED`` and is
refunded instead of arriving late (a verify code that arrives an hour late is worse than none).

A record's ``expires_at`` is set once, when it is written or started, and never moves:

- a tenant message with ``validity_seconds`` (``POST v1/message``, ``MIN_SECONDS`` to
  ``MAX_SECONDS``): the moment it may first be sent (now, or its batch's ``release_at``: a
  scheduled send, a marketing batch held for its hours) plus the validity. A marketing batch held
  again later (the hours closed before it went out) keeps it;
- a station verify code (business type 2): its ``send/start`` plus
  ``SMS_STATION_VERIFY_VALIDITY_SECONDS`` (0: none). Not its ``send/add``: a record added and not
  started is the station's to start or let go (``SMS_UNSTARTED_HOLD_SECONDS``);
- anything else: none (null).

The rule (``has_expired``): a record past its ``expires_at`` that no provider has been handed fails
with provider code ``EXPIRED`` (state ``failed``, refunded once, counted as failed, its webhook
event as any failure). Two places apply it, whichever comes first:

- the dispatch that claims it, before the provider request (``sms.sending.pipeline.dispatch``):
  first sends, retries, failover, the re-dispatch sweep and the bulk lane's parked batches all
  claim through it;
- the validity sweep (``sms.sending.sweeps.expire_overdue``, beat's ``sms.sweep_stale_records``),
  for records waiting ``queued`` or ``scheduled`` with no dispatch coming (a stalled provider whose
  retries back off past the validity, a lost task).

A record a provider may already have is never expired here: ``sending`` (its request in flight,
or a dispatch resumed under its id, ``resends_safely``), ``submitted`` and ``unknown`` wait for the
provider's report. Record times are the system clock's; ``release_at`` is on the business clock
(``gm_server_notify.clock``) and is converted.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from gm_server_notify import clock
from gm_server_notify.errors import InvalidInput
from sms.models import BusinessType, RecordState, SendRecord

EXPIRED_CODE = "EXPIRED"
EXPIRED_DESCRIPTION = "not handed to a provider within its validity"
# What a tenant may ask for: from 10 s (a first retry's backoff alone may take seconds) to 48
# hours (a message still unsent after two days needs a new decision, not a longer wait).
MIN_SECONDS = 10
MAX_SECONDS = 172_800
# The states of a record waiting for a dispatch: the ones the sweep expires.
WAITING_STATES = (RecordState.QUEUED, RecordState.SCHEDULED)


def check_seconds(validity_seconds: int | None) -> None:
    """``validity_seconds`` absent or an integer from ``MIN_SECONDS`` to ``MAX_SECONDS`` (ER:0004)."""
    if validity_seconds is None:
        return
    if (
        isinstance(validity_seconds, bool)
        or not isinstance(validity_seconds, int)
        or not MIN_SECONDS <= validity_seconds <= MAX_SECONDS
    ):
        raise InvalidInput(
            f"validity_seconds must be an integer from {MIN_SECONDS} to {MAX_SECONDS}",
            field="validity_seconds",
        )


def tenant_expires_at(*, validity_seconds: int | None, release_at: dt.datetime | None) -> dt.datetime | None:
    """When a tenant message's records expire: ``validity_seconds`` after it may first be sent (now,
    or ``release_at`` on the business clock); None without a validity."""
    if validity_seconds is None:
        return None
    held_for = dt.timedelta(0)
    if release_at is not None:
        held_for = max(held_for, release_at - clock.now())
    return timezone.now() + held_for + dt.timedelta(seconds=validity_seconds)


def station_expires_at(*, business_type: int | None, started_at: dt.datetime) -> dt.datetime | None:
    """When a station record started at ``started_at`` expires: a verify code
    ``SMS_STATION_VERIFY_VALIDITY_SECONDS`` later; None for other types, or when the setting is 0."""
    seconds = settings.SMS_STATION_VERIFY_VALIDITY_SECONDS
    if business_type != BusinessType.REGISTRATION or seconds <= 0:
        return None
    return started_at + dt.timedelta(seconds=seconds)


def has_expired(expires_at: dt.datetime | None, *, now: dt.datetime) -> bool:
    """Whether a record with ``expires_at`` may no longer be handed to a provider at ``now``."""
    return expires_at is not None and expires_at <= now


def overdue(*, now: dt.datetime) -> QuerySet[SendRecord]:
    """The records waiting for a dispatch whose validity has passed by ``now`` (read through the
    ``record_state_expires_idx`` index): ``has_expired``, as a query."""
    return SendRecord.objects.filter(state__in=WAITING_STATES, expires_at__lte=now)
