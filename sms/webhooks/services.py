"""Tenant delivery webhooks: the callback URL and its secret, and pushing the outbox's events.

A tenant sets a callback URL (``PUT v1/callback``) and gets a secret; every record of its that
reaches ``delivered`` or ``failed`` leaves an event in the outbox (``sms.webhooks.outbox``, written with the
state change). The ``sms_webhooks`` queue's task (``sms.tasks.deliver_webhooks``) calls
``deliver`` for one target, a ``(tenant, url)``:

- one delivery per URL at a time (a lock in the cache, ``_TargetLock``), so a slow receiver holds
  one worker slot at most, and events go out once in the ordinary case;
- up to ``WEBHOOK_MAX_EVENTS_PER_POST`` (100) due events per POST, a JSON array, signed
  ``X-GM-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``;
- the URL is checked by the SSRF guard again (``sms.webhooks.urlguard``), redirects are not followed, and
  the receiver has ``WEBHOOK_TIMEOUT`` seconds to answer;
- a 2xx answer delivers the events; anything else retries them after the next wait of
  ``WEBHOOK_RETRY_SCHEDULE`` (``next_attempt_at``; the task publishes itself with that countdown,
  and beat's ``sweep_due`` publishes whatever is due and was not taken), and after the last
  wait they are ``dead``: operators redeliver them from the admin (``redeliver_dead``).

Each POST is a ``WebhookDelivery`` row (``GET v1/callback/deliveries``). No transaction is open
during the POST. The secret is never logged; phone numbers leave only in the tenant's payload.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.models import AuditAction
from audit.services import SYSTEM, Actor, record
from gm_server_notify.db import retry_on_deadlock
from gm_server_notify.errors import InvalidInput
from sms.core import metrics
from sms.models import (
    TenantAccount,
    WebhookDelivery,
    WebhookDeliveryOutcome,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventState,
)
from sms.webhooks import urlguard
from sms.webhooks.outbox import publish_after_commit, publish_delivery

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-GM-Signature"
# A run of ``deliver`` makes at most this many POSTs, then hands the target to a fresh task.
MAX_POSTS_PER_RUN = 50
# A retry further away than this is left to beat's sweep rather than a countdown task (a Redis
# broker redelivers tasks held longer than its visibility timeout).
MAX_COUNTDOWN_SECONDS = 300


# --- The callback URL and its secret ---------------------------------------------------------


def new_secret() -> str:
    """32 random bytes, hex."""
    return secrets.token_hex(32)


@dataclass(frozen=True)
class CallbackSet:
    url: str
    secret: str | None  # shown when generated or rotated only
    secret_hint: str


@retry_on_deadlock()
def set_callback(*, owner: Any, url: str, rotate_secret: bool = False) -> CallbackSet:
    """Set the tenant's callback URL (checked by the SSRF guard). The first call generates the
    secret and answers it; later calls answer it only when ``rotate_secret`` (each such call
    rotates again). A new URL takes over the tenant's pending events that were going to the old
    one (not those of batches with their own ``callback_url``)."""
    urlguard.check_url(url)
    with transaction.atomic():
        account, _ = TenantAccount.objects.get_or_create(user=owner)
        # The tenant's row serialises its callback changes (first PUTs racing each other).
        TenantAccount.objects.select_for_update().filter(pk=account.pk).first()
        endpoint = WebhookEndpoint.objects.filter(tenant=account).first()
        shown: str | None = None
        if endpoint is None:
            shown = new_secret()
            endpoint = WebhookEndpoint.objects.create(tenant=account, url=url, secret=shown)
        else:
            old_url = endpoint.url
            if rotate_secret:
                shown = endpoint.secret = new_secret()
            endpoint.url = url
            endpoint.save(update_fields=["url", "secret", "updated_at"])
            if old_url != url:
                moved = WebhookEvent.objects.filter(
                    tenant=account, state=WebhookEventState.PENDING, from_batch=False, url=old_url
                ).update(url=url, attempts=0, next_attempt_at=timezone.now(), last_error="")
                if moved:
                    publish_after_commit([(account.pk, url)])
    logger.info("tenant account %s set its callback URL%s", account.pk, " (new secret)" if shown else "")
    return CallbackSet(url=endpoint.url, secret=shown, secret_hint=endpoint.secret[-4:])


@retry_on_deadlock()
def delete_callback(*, owner: Any) -> int:
    """Stop the tenant's pushes: forget its URL and secret, cancel its pending events (those of
    batches with their own ``callback_url`` too: nothing is left to sign them with). Answers how
    many events were cancelled; deleting nothing is not an error."""
    with transaction.atomic():
        account = TenantAccount.objects.select_for_update().filter(user=owner).first()
        if account is None:
            return 0
        WebhookEndpoint.objects.filter(tenant=account).delete()
        cancelled = WebhookEvent.objects.filter(tenant=account, state=WebhookEventState.PENDING).update(
            state=WebhookEventState.CANCELLED, last_error="the tenant deleted its callback"
        )
    logger.info(
        "tenant account %s deleted its callback URL: %s pending event(s) cancelled", account.pk, cancelled
    )
    return cancelled


# --- Payload and signature ----------------------------------------------------------------------


def _unix(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def event_payload(event: WebhookEvent) -> dict[str, Any]:
    """What a receiver gets for one event: a record's final state (``record`` and its batch
    loaded), or a notice's own payload; ``type`` says which."""
    record = event.record
    if record is None:
        return {"event_id": str(event.pk), "type": event.kind, **(event.payload or {})}
    return {
        "event_id": str(event.pk),
        "type": event.kind,
        "uuid": str(record.batch.uuid),
        "mobile": record.receive_phone,
        "status": record.state,
        "code": record.provider_code,
        "description": record.remark,
        "segments": record.segments,
        "submitted_at": _unix(record.submitted_at),
        "done_at": _unix(record.finished_at),
        # Test mode's events go to the same URL as live ones: this tells them apart.
        "test": record.test,
    }


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str, body: bytes, header: str, *, tolerance: int = 300, now: float | None = None
) -> bool:
    """What a receiver does (docs/api-platform.md shows the same in a few lines): the header's
    HMAC matches and its ``t`` is no older than ``tolerance`` seconds."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature_header(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# --- Delivery -------------------------------------------------------------------------------


class _TargetLock:
    """One delivery per URL at a time: a token in the cache (``add`` is atomic in Redis), with a
    time to live longer than a POST, so a worker that died frees it. Released only by its owner
    (compare, then delete: the lock cannot have expired in between unless a POST outlived the
    time to live)."""

    def __init__(self, url: str) -> None:
        self.key = "webhook:lock:" + hashlib.sha256(url.encode()).hexdigest()
        self.token = uuid.uuid4().hex
        self.ttl = int(2 * settings.WEBHOOK_TIMEOUT + settings.WEBHOOK_DNS_TIMEOUT + 30)

    def acquire(self) -> bool:
        return bool(cache.add(self.key, self.token, self.ttl))

    def refresh(self) -> None:
        cache.touch(self.key, self.ttl)

    def release(self) -> None:
        if cache.get(self.key) == self.token:
            cache.delete(self.key)


def _http_session() -> requests.Session:
    global _session
    if _session is None:
        _session = requests.Session()
        _session.trust_env = False  # no proxy from the environment between us and the receiver
    return _session


_session: requests.Session | None = None


@dataclass
class PostResult:
    ok: bool
    http_status: int | None
    error: str
    duration_ms: int


def _post(url: str, body: bytes, secret: str) -> PostResult:
    """One POST, no redirects, ``WEBHOOK_TIMEOUT`` to connect and again to answer; the answer's
    body is never read."""
    started = time.monotonic()
    try:
        urlguard.check_url(url)
    except InvalidInput as exc:
        return PostResult(False, None, f"refused: {exc.message}"[:255], 0)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "gm_server_notify-webhooks/1",
        SIGNATURE_HEADER: signature_header(secret, body, int(time.time())),
    }
    timeout = settings.WEBHOOK_TIMEOUT
    try:
        with _http_session().post(
            url, data=body, headers=headers, timeout=(timeout, timeout), allow_redirects=False, stream=True
        ) as response:
            status = response.status_code
    except requests.Timeout:
        return PostResult(False, None, f"no answer within {timeout:g} s", _ms(started))
    except requests.RequestException as exc:
        return PostResult(
            False, None, f"{type(exc).__name__}: could not reach the receiver"[:255], _ms(started)
        )
    ok = 200 <= status < 300
    return PostResult(ok, status, "" if ok else f"HTTP {status}", _ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def retry_wait(attempts: int) -> float | None:
    """Seconds before the next try of an event that has failed ``attempts`` times (None: dead)."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    return schedule[attempts - 1] if attempts <= len(schedule) else None


def _due(tenant_id: int, url: str, now: datetime, limit: int) -> list[WebhookEvent]:
    return list(
        WebhookEvent.objects.filter(
            tenant_id=tenant_id, url=url, state=WebhookEventState.PENDING, next_attempt_at__lte=now
        )
        .select_related("record__batch")
        .only(
            "id",
            "attempts",
            "kind",
            "payload",
            "record__receive_phone",
            "record__state",
            "record__provider_code",
            "record__remark",
            "record__segments",
            "record__submitted_at",
            "record__finished_at",
            "record__test",
            "record__batch__uuid",
        )
        .order_by("id")[:limit]
    )


@retry_on_deadlock()
def _record_attempt(
    *, tenant_id: int, url: str, events: Sequence[WebhookEvent], result: PostResult
) -> datetime | None:
    """Write one POST's outcome: the delivery row and its events (only those still pending).
    Answers when the earliest retry of its events is due (None: nothing to retry)."""
    now = timezone.now()
    ids = [event.pk for event in events]
    retry_at: datetime | None = None
    dead = 0
    with transaction.atomic():
        pending = WebhookEvent.objects.filter(pk__in=ids, state=WebhookEventState.PENDING)
        if result.ok:
            pending.update(
                state=WebhookEventState.DELIVERED, delivered_at=now, attempts=F("attempts") + 1, last_error=""
            )
        else:
            by_attempts: dict[int, list[int]] = {}
            for event in events:
                by_attempts.setdefault(event.attempts + 1, []).append(event.pk)
            for attempts, group in sorted(by_attempts.items()):
                wait = retry_wait(attempts)
                rows = pending.filter(pk__in=group)
                if wait is None:
                    dead += rows.update(
                        state=WebhookEventState.DEAD, attempts=attempts, last_error=result.error
                    )
                else:
                    at = now + timedelta(seconds=wait)
                    rows.update(attempts=attempts, next_attempt_at=at, last_error=result.error)
                    retry_at = at if retry_at is None else min(retry_at, at)
        outcome = (
            WebhookDeliveryOutcome.DELIVERED
            if result.ok
            else WebhookDeliveryOutcome.DEAD
            if dead
            else WebhookDeliveryOutcome.FAILED
        )
        WebhookDelivery.objects.create(
            tenant_id=tenant_id,
            url=url,
            outcome=outcome,
            http_status=result.http_status,
            error=result.error[:255],
            event_count=len(ids),
            event_ids=ids,
            duration_ms=result.duration_ms,
        )
    transaction.on_commit(lambda: metrics.count_webhook_post(outcome, len(ids), dead), robust=True)
    return retry_at


@dataclass
class DeliverResult:
    posts: int = 0
    delivered: int = 0
    busy: bool = False  # another worker holds the URL: it takes these events too
    retry_in: float | None = None  # a countdown for the next run (failed events, or more left)


def deliver(*, tenant_id: int, url: str) -> DeliverResult:
    """Push a target's due events, 100 per POST, one POST at a time per URL (see the module)."""
    result = DeliverResult()
    lock = _TargetLock(url)
    while True:
        if not lock.acquire():
            result.busy = True  # the holder looks for due events again after releasing
            return result
        try:
            _drain(tenant_id, url, lock, result)
        finally:
            lock.release()
        if result.retry_in is not None:
            return result
        # Events committed while we held the lock had their task turned away: look once more.
        if not _has_due(tenant_id, url):
            return result


def _drain(tenant_id: int, url: str, lock: _TargetLock, result: DeliverResult) -> None:
    endpoint = WebhookEndpoint.objects.filter(tenant_id=tenant_id).first()
    if endpoint is None:
        # The tenant deleted its callback meanwhile: nothing may be pushed or signed any more.
        WebhookEvent.objects.filter(tenant_id=tenant_id, state=WebhookEventState.PENDING).update(
            state=WebhookEventState.CANCELLED, last_error="the tenant deleted its callback"
        )
        return
    for _ in range(MAX_POSTS_PER_RUN):
        events = _due(tenant_id, url, timezone.now(), settings.WEBHOOK_MAX_EVENTS_PER_POST)
        if not events:
            return
        body = json.dumps(
            [event_payload(event) for event in events], ensure_ascii=False, separators=(",", ":")
        )
        lock.refresh()
        post = _post(url, body.encode(), endpoint.secret)
        retry_at = _record_attempt(tenant_id=tenant_id, url=url, events=events, result=post)
        result.posts += 1
        if post.ok:
            result.delivered += len(events)
            continue
        logger.warning(
            "webhook POST of %s event(s) for tenant account %s failed: %s", len(events), tenant_id, post.error
        )
        # A failing receiver gets no more POSTs this run: its events wait for their retry.
        if retry_at is not None:
            result.retry_in = max(0.0, (retry_at - timezone.now()).total_seconds())
        elif _has_due(tenant_id, url):
            result.retry_in = 0.0
        return
    result.retry_in = 0.0  # more than a run's worth: a fresh task goes on


def _has_due(tenant_id: int, url: str) -> bool:
    return WebhookEvent.objects.filter(
        tenant_id=tenant_id, url=url, state=WebhookEventState.PENDING, next_attempt_at__lte=timezone.now()
    ).exists()


def schedule_next(*, tenant_id: int, url: str, retry_in: float) -> None:
    """Publish the target's next run after ``retry_in`` seconds, or leave it to beat when that is
    further away than ``MAX_COUNTDOWN_SECONDS``."""
    if retry_in <= MAX_COUNTDOWN_SECONDS:
        publish_delivery(tenant_id, url, countdown=retry_in or None)


def sweep_due(*, limit: int = 1000) -> int:
    """Beat: publish a delivery for every target with events due (a task lost with a broker
    restart or a worker's death, a retry further away than a countdown). A target already being
    delivered turns the extra task away at once (``_TargetLock``)."""
    targets = list(
        WebhookEvent.objects.filter(state=WebhookEventState.PENDING, next_attempt_at__lte=timezone.now())
        .values_list("tenant_id", "url")
        .distinct()[:limit]
    )
    for tenant_id, url in targets:
        publish_delivery(tenant_id, url)
    return len(targets)


@retry_on_deadlock()
def redeliver_dead(*, event_ids: Iterable[int], actor: Actor = SYSTEM) -> int:
    """Operators (the admin): dead events become pending again with a full retry schedule, and
    their delivery is published. One audit entry (by ``actor``) names the events redelivered, in
    the same transaction; none when no event was dead. Answers how many were dead."""
    ids = sorted(set(event_ids))
    with transaction.atomic():
        dead_rows = list(
            WebhookEvent.objects.select_for_update()
            .filter(pk__in=ids, state=WebhookEventState.DEAD)
            .order_by("pk")
            .values("pk", "tenant_id", "url", "attempts", "last_error")
        )
        dead_ids = [row["pk"] for row in dead_rows]
        targets = {(row["tenant_id"], row["url"]) for row in dead_rows}
        changed = WebhookEvent.objects.filter(pk__in=dead_ids).update(
            state=WebhookEventState.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
        )
        if changed:
            record(
                actor=actor,
                action=AuditAction.WEBHOOK_REDELIVERY,
                target=(WebhookEvent._meta.label_lower, ",".join(map(str, dead_ids))),
                before={
                    "state": WebhookEventState.DEAD,
                    "events": [
                        {"id": row["pk"], "attempts": row["attempts"], "last_error": row["last_error"][:200]}
                        for row in dead_rows
                    ],
                },
                after={"state": WebhookEventState.PENDING, "attempts": 0, "event_ids": dead_ids},
            )
        publish_after_commit(targets)
    if changed:
        logger.warning("%s dead webhook event(s) queued for redelivery by an operator", changed)
    return changed
