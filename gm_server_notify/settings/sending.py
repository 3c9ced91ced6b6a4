"""The sending pipeline and what it promises: retries and failover, the sweeps and the report
deadlines, the ``unknown`` state, pulled reports and uplinks, retries through infrastructure
faults, and the limits on what one request may ask (recharges, holds, verify codes, the daily cap,
idempotency keys)."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured

from gm_server_notify.settings.environment import env, env_list

# --- Retries of an unavailable provider, then failover --------------------------------------------
# Exponential backoff with full jitter before the batch fails over to the next provider of its
# region's chain (SMS_FAILOVER_MAINLAND or SMS_FAILOVER_INTERNATIONAL).
SMS_PROVIDER_MAX_RETRIES = env.int("SMS_PROVIDER_MAX_RETRIES", default=5)
SMS_RETRY_BASE_SECONDS = env.float("SMS_RETRY_BASE_SECONDS", default=1.0)
SMS_RETRY_MAX_SECONDS = env.float("SMS_RETRY_MAX_SECONDS", default=60.0)
# A dispatch waits at most this long for its provider's rate limit before it is put off.
SMS_RATE_LIMIT_MAX_WAIT = env.float("SMS_RATE_LIMIT_MAX_WAIT", default=2.0)
# A verify code (the priority lane) may start this far ahead of the provider's schedule the other
# lanes booked (providers/ratelimit.py). More than they ever book ahead (SMS_RATE_LIMIT_MAX_WAIT and
# one batch), so a verify code never waits for a blast's bookings.
SMS_PRIORITY_RATE_HEADROOM_SECONDS = env.float("SMS_PRIORITY_RATE_HEADROOM_SECONDS", default=3.0)

# --- Lanes (sms/sending/lanes.py) ------------------------------------------------------------------
# A tenant message to more numbers than this goes on the bulk lane, whatever its template's type.
SMS_BULK_LANE_THRESHOLD = env.int("SMS_BULK_LANE_THRESHOLD", default=100)

# --- Sweeps: lost tasks, dead workers, missing reports ---------------------------------------------
# Records queued longer than this are published again (their task was lost); records left sending
# longer than this belong to a dispatch whose worker died; records accepted but unreported longer
# than this become ``unknown`` (sms/sending/sweeps.py).
SMS_REQUEUE_AFTER_SECONDS = env.int("SMS_REQUEUE_AFTER_SECONDS", default=60)
SMS_SENDING_STUCK_SECONDS = env.int("SMS_SENDING_STUCK_SECONDS", default=120)
SMS_REPORT_DEADLINE_SECONDS = env.int("SMS_REPORT_DEADLINE_SECONDS", default=72 * 3600)
# Records with no report by the deadline, and uncertain submits, are ``unknown`` (docs/delivery-truth.md):
# a late report or a pull decides them; after this long unknown they fail, and SMS_UNKNOWN_POLICY
# says whether what they cost stays billed (keep: the provider accepted and billed them) or is
# given back (refund). Either way a ledger entry records it.
SMS_UNKNOWN_SETTLE_SECONDS = env.int("SMS_UNKNOWN_SETTLE_SECONDS", default=7 * 86400)
SMS_UNKNOWN_POLICY = env.str("SMS_UNKNOWN_POLICY", default="keep")
if SMS_UNKNOWN_POLICY not in ("keep", "refund"):
    raise ImproperlyConfigured("SMS_UNKNOWN_POLICY must be keep or refund")

# --- Pulled reports and uplinks -------------------------------------------------------------------
# Providers whose reports are pulled at every sweep; any other provider with a pull API is pulled
# while it has ``unknown`` records (sms/sending/sweeps.py).
SMS_PULL_REPORT_PROVIDERS = env_list("SMS_PULL_REPORT_PROVIDERS", default="sjroom,gateway")
# Providers whose uplinks (replies) beat pulls every SMS_SWEEP_SECONDS: those whose uplink push is
# off (the gateway's /api/v1/mo, Tencent's PullSmsReplyStatus). Empty: every uplink is pushed.
SMS_PULL_UPLINK_PROVIDERS = env_list("SMS_PULL_UPLINK_PROVIDERS", default="")
# An uplink answers the last message its number received within this many days (sms.delivery.uplinks).
SMS_UPLINK_MATCH_DAYS = env.int("SMS_UPLINK_MATCH_DAYS", default=7)
if not 1 <= SMS_UPLINK_MATCH_DAYS <= 366:
    raise ImproperlyConfigured("SMS_UPLINK_MATCH_DAYS must be between 1 and 366")
# Reports that matched no record are kept this long (they may overtake the worker's commit).
PENDING_REPORT_MAX_AGE_SECONDS = env.int("PENDING_REPORT_MAX_AGE_SECONDS", default=7 * 86400)

# --- Infrastructure faults (database, cache, broker unreachable) -------------------------------
# A task is retried with backoff this many times; a push queued while the database was down, many
# more (it exists nowhere else); a provider's answer is written again in place for this long (it
# exists only in memory).
SMS_INFRA_MAX_RETRIES = env.int("SMS_INFRA_MAX_RETRIES", default=20)
SMS_PUSH_APPLY_MAX_RETRIES = env.int("SMS_PUSH_APPLY_MAX_RETRIES", default=200)
SMS_OUTCOME_RETRY_SECONDS = env.int("SMS_OUTCOME_RETRY_SECONDS", default=300)

# --- Limits on what a request may ask --------------------------------------------------------------
# One recharge may add at most this many messages and this much money (fat-finger ceilings).
SMS_RECHARGE_MAX_NUMS = env.int("SMS_RECHARGE_MAX_NUMS", default=10_000_000)
SMS_RECHARGE_MAX_MONEY = Decimal(env.str("SMS_RECHARGE_MAX_MONEY", default="1000000.00"))
# A record added (send/add) but not started (send/start) within this hold expires and its reserved
# balance comes back.
SMS_UNSTARTED_HOLD_SECONDS = env.int("SMS_UNSTARTED_HOLD_SECONDS", default=86400)
# Verify codes (station business type 2, tenant templates of type 1) one mobile may get: sliding
# windows "count/period" (s, m, h, d), comma-separated; empty for none.
SMS_VERIFY_LIMITS = env.str("SMS_VERIFY_LIMITS", default="1/60s,5/1h,10/1d")
# A station's verify code (business type 2) not handed to a provider within this many seconds of
# its send/start fails EXPIRED and is refunded instead of arriving late (sms/sending/validity.py);
# 0: no validity. Other station messages have none; a tenant message has the validity_seconds
# of its POST v1/message, if any.
SMS_STATION_VERIFY_VALIDITY_SECONDS = env.int("SMS_STATION_VERIFY_VALIDITY_SECONDS", default=600)
if SMS_STATION_VERIFY_VALIDITY_SECONDS < 0:
    raise ImproperlyConfigured("SMS_STATION_VERIFY_VALIDITY_SECONDS must be 0 (none) or more")
# Messages a station may add per China-time day (0: no cap).
SMS_STATION_DAILY_CAP = env.int("SMS_STATION_DAILY_CAP", default=0)
# A tenant whose parts of the day or month reach this percent of its cap gets a limit.warning
# webhook event (once a period) and operators a tenant_cap alert (sms.accounting.caps).
SMS_CAP_WARNING_PERCENT = env.int("SMS_CAP_WARNING_PERCENT", default=80)
if not 1 <= SMS_CAP_WARNING_PERCENT <= 100:
    raise ImproperlyConfigured("SMS_CAP_WARNING_PERCENT must be 1 to 100")
# Test mode's own ceiling: the messages (records and test replies) a tenant may make with its test
# password per China-time day (ER:0045 beyond it; 0: none). Test mode is free and counted nowhere
# else, so without it a test password could fill the tables and the sandbox's queue at no cost.
# 10,000 lets a developer try the API's largest request (10,000 mobiles) once a day.
SMS_TEST_MODE_DAILY_MESSAGES = env.int("SMS_TEST_MODE_DAILY_MESSAGES", default=10000)
if SMS_TEST_MODE_DAILY_MESSAGES < 0:
    raise ImproperlyConfigured("SMS_TEST_MODE_DAILY_MESSAGES must be 0 (no ceiling) or more")
# Idempotency-Key: how long a key's answer is kept, and after how long a claim whose request never
# finished is taken over by the next request with that key.
IDEMPOTENCY_TTL_SECONDS = env.int("IDEMPOTENCY_TTL_SECONDS", default=86400)
IDEMPOTENCY_LOCK_SECONDS = env.int("IDEMPOTENCY_LOCK_SECONDS", default=60)
