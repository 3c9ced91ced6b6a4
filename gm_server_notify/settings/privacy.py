"""Personal data: how long mobile numbers and message texts are kept, and the key opt-outs are
matched by once their number is erased (sms/privacy/, docs/operations.md "Retention and erasure")."""

from __future__ import annotations

import hashlib
import hmac

from gm_server_notify.settings.core import SECRET_KEY
from gm_server_notify.settings.environment import env

# --- Retention ------------------------------------------------------------------------------------
# Send records, uplinks, pending and rejected reports, push-inbox rows and tenant batches older than
# this many days lose their numbers and texts (beat's sms.erase_expired_personal_data); counts,
# parts, states, money, provider ids and times stay. 0 turns it off. 90 days: beyond the longest
# time a record may legitimately still be moving (send_at up to SMS_SEND_AT_MAX_DAYS = 30 days ahead,
# then the report and settle deadlines), a quarter of customer-service questions about an order
# SMS, while statistics (daily rows), the ledger and reconciliation never need a number
# (docs/configuration.md).
SMS_PERSONAL_DATA_RETENTION_DAYS = env.int("SMS_PERSONAL_DATA_RETENTION_DAYS", default=90)
# Rows erased per transaction (one primary-key range each).
SMS_RETENTION_BATCH_SIZE = env.int("SMS_RETENTION_BATCH_SIZE", default=2000)
# One run stops after about this long and leaves the rest to the next beat.
SMS_RETENTION_MAX_SECONDS = env.int("SMS_RETENTION_MAX_SECONDS", default=240)
SMS_RETENTION_EVERY_SECONDS = env.int("SMS_RETENTION_EVERY_SECONDS", default=300)

# --- Opt-outs outlive their numbers -------------------------------------------------------------------
# Blocklist entries are matched by HMAC-SHA256(key, E.164 number), so an opt-out still holds after
# its number was erased. Changing the key orphans every opt-out (they no longer match): keep it.
# Default: derived from DJANGO_SECRET_KEY (so rotating that key orphans them too; set this to pin it).
SMS_PHONE_HASH_KEY = env.str(
    "SMS_PHONE_HASH_KEY",
    default=hmac.new(SECRET_KEY.encode(), b"gm_server_notify.sms.phone_hash", hashlib.sha256).hexdigest(),
)
