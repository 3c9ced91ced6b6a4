"""Tenant webhooks (docs/api-platform.md, "Delivery webhooks"): the POSTs that push final states
to a tenant's callback URL."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from gm_server_notify.settings.environment import env, env_durations

# --- Timeouts, retries, the SSRF guard, batch size ---------------------------------------------------
# How long a receiver may take to answer one POST; the waits before each retry of a POST that
# failed (then its events are dead); whether a callback URL may resolve to a loopback, private,
# link-local or multicast address (never in production: a tenant could make the service probe the
# internal network); how long the host's name may take to resolve; events per POST (at most 100).
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=5.0)
WEBHOOK_RETRY_SCHEDULE = env_durations("WEBHOOK_RETRY_SCHEDULE", "10s,1m,5m,30m,2h")
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=False)
WEBHOOK_DNS_TIMEOUT = env.float("WEBHOOK_DNS_TIMEOUT", default=2.0)
WEBHOOK_MAX_EVENTS_PER_POST = env.int("WEBHOOK_MAX_EVENTS_PER_POST", default=100)
if not 1 <= WEBHOOK_MAX_EVENTS_PER_POST <= 100:
    raise ImproperlyConfigured("WEBHOOK_MAX_EVENTS_PER_POST must be between 1 and 100")
