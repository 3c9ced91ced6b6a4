"""The operators' console: the traffic rollup and the prices its money figures use
(sms/accounting/traffic.py, sms/console/; docs/operations.md "Console JSON API")."""

from __future__ import annotations

from gm_server_notify.settings.environment import env, env_json

# --- The traffic rollup (beat's sms.roll_up_traffic) ----------------------------------------------
SMS_TRAFFIC_ROLLUP_SECONDS = env.int("SMS_TRAFFIC_ROLLUP_SECONDS", default=60)
# Records changed this long before the last run's start are read again: a transaction that
# committed late (its updated_at older than when it became visible) is still picked up.
SMS_TRAFFIC_OVERLAP_SECONDS = env.int("SMS_TRAFFIC_OVERLAP_SECONDS", default=300)

# --- Money -------------------------------------------------------------------------------------------
# What a tenant pays per part, in fen, unless its account says otherwise (TenantAccount.price_fen_per_part).
SMS_TENANT_DEFAULT_PRICE_FEN = env.float("SMS_TENANT_DEFAULT_PRICE_FEN", default=5.0)
# What each provider charges per part, in fen: {provider: {region or "*": fen}}; the region is the
# calling code ("+86"), "*" any other. THE DEFAULTS ARE EXAMPLES: set them from the provider
# contracts. A provider or region missing here costs 0 (the console says so).
SMS_PROVIDER_PRICES = env_json(
    "SMS_PROVIDER_PRICES",
    default=(
        '{"tencent": {"+86": 4.5, "*": 35}, "gateway": {"+86": 3.8}, '
        '"fw199": {"+86": 4.0}, "sjroom": {"+86": 3.5}}'
    ),
)
