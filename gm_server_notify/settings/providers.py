"""The SMS providers: which one takes which messages, the failover chains, what station messages
say, and each provider's endpoint, credentials, batch size and rate (``SMS_PROVIDERS``). Every
base URL defaults to the local simulator, so no default ever reaches a real vendor."""

from __future__ import annotations

import json

from gm_server_notify.settings.core import SIMULATOR_PORT
from gm_server_notify.settings.environment import env, env_json, env_list

SIMULATOR_URL = f"http://127.0.0.1:{SIMULATOR_PORT}"

# --- Which provider takes which messages --------------------------------------------------------
# Station sends to +86 numbers. SMS_DEFAULT_PROVIDER is its deprecated name, read only while
# SMS_STATION_PROVIDER is unset (`manage.py check` warns while it is set).
SMS_DEFAULT_PROVIDER = env.str("SMS_DEFAULT_PROVIDER", default="")
SMS_STATION_PROVIDER = env.str("SMS_STATION_PROVIDER", default=SMS_DEFAULT_PROVIDER or "tencent")
# Tenant v1/message sends to +86 numbers; every number outside +86, station and tenant; Douyin
# shops' order messages.
SMS_TENANT_PROVIDER = env.str("SMS_TENANT_PROVIDER", default="gateway")
SMS_INTERNATIONAL_PROVIDER = env.str("SMS_INTERNATIONAL_PROVIDER", default="sjroom")
SMS_DOUYIN_PROVIDER = env.str("SMS_DOUYIN_PROVIDER", default="fw199")

# --- Failover chains, one per region ---------------------------------------------------------------
# When a batch's provider stays unavailable, the next provider of its region's chain that serves
# the region and can carry the batch takes it (sms/sending/routing.py). SMS_FAILOVER is the deprecated
# name of the mainland chain, read only when SMS_FAILOVER_MAINLAND is unset (`manage.py check`
# warns while it is set).
SMS_FAILOVER = env_list("SMS_FAILOVER")
SMS_FAILOVER_MAINLAND = env_list(
    "SMS_FAILOVER_MAINLAND", default=",".join(SMS_FAILOVER) if SMS_FAILOVER else "tencent,gateway"
)
SMS_FAILOVER_INTERNATIONAL = env_list("SMS_FAILOVER_INTERNATIONAL", default="sjroom")

# --- What station messages say ---------------------------------------------------------------------
# Message text per station business type (0 mall order, 1 order on behalf, 2 registration);
# the signature is prefixed as 【name】. Tencent sends its own registered templates instead
# (TENCENT_SMS_TEMPLATE_IDS), with the order id or code as the one parameter.
SMS_STATION_TEMPLATES = env_json(
    "SMS_STATION_TEMPLATES",
    default=json.dumps(
        {
            "0": "您的商城订单{order_id}已提交成功，我们将尽快为您安排配送。",
            "1": "已为您代下订单{order_id}，请留意收货。",
            "2": "您的验证码为{verify_code}，5分钟内有效，请勿泄露给他人。",
        },
        ensure_ascii=False,
    ),
)

# --- Talking to providers ----------------------------------------------------------------------------
PROVIDER_HTTP_TIMEOUT = env.float("PROVIDER_HTTP_TIMEOUT", default=5.0)

# --- Provider balances (statistics_overview's gm_balance, the dashboard) -------------------------
SMS_BALANCE_PROVIDERS = env_list("SMS_BALANCE_PROVIDERS", default="tencent,gateway,sjroom")
# Cached this long; a request meeting a cold cache waits at most PROVIDER_BALANCE_TIMEOUT.
PROVIDER_BALANCE_CACHE_SECONDS = env.int("PROVIDER_BALANCE_CACHE_SECONDS", default=300)
PROVIDER_BALANCE_TIMEOUT = env.float("PROVIDER_BALANCE_TIMEOUT", default=1.5)

# --- Each provider: its adapter, endpoint, credentials, batch size, rate -------------------------
# The one list of providers: providers.registry finds each adapter class here by name.
SMS_PROVIDERS = {
    "tencent": {
        "adapter": "providers.tencent.TencentAdapter",
        "endpoint": env.str("TENCENT_SMS_ENDPOINT", default=SIMULATOR_URL),
        "secret_id": env.str("TENCENT_SECRET_ID", default="sim-secret-id"),
        "secret_key": env.str("TENCENT_SECRET_KEY", default="sim-secret-key"),
        "sdk_app_id": env.str("TENCENT_SMS_SDK_APP_ID", default="1400000001"),
        "region": env.str("TENCENT_SMS_REGION", default="ap-guangzhou"),
        "sign_name": env.str("TENCENT_SMS_SIGN_NAME", default="去采购"),
        "template_ids": env_json(
            "TENCENT_SMS_TEMPLATE_IDS", default='{"0": "1001", "1": "1002", "2": "1003"}'
        ),
        "batch_limit": env.int("TENCENT_SMS_BATCH_LIMIT", default=200),
        "rate_per_second": env.int("TENCENT_SMS_RATE_PER_SECOND", default=1000),
    },
    "gateway": {
        "adapter": "providers.gateway.GatewayAdapter",
        "base_url": env.str("GATEWAY_SMS_BASE_URL", default=SIMULATOR_URL),
        "account": env.str("GATEWAY_SMS_ACCOUNT", default="sim-account"),
        "password": env.str("GATEWAY_SMS_PASSWORD", default="sim-password"),
        "ext_no": env.str("GATEWAY_SMS_EXT_NO", default=""),
        # Off by default: seed 002 asks the caller to keep taskId unique, it does not say the
        # gateway refuses a repeat. Only an operator who knows it does turns this on; then a
        # dispatch whose answer was lost is resent under the same taskId (docs/providers.md).
        "refuses_repeated_task_id": env.bool("GATEWAY_SMS_REFUSES_REPEATED_TASK_ID", default=False),
        # The answer code for a repeated taskId: the batch is already there (not an error).
        "duplicate_task_code": env.str("GATEWAY_DUPLICATE_TASK_CODE", default="08"),
        "batch_limit": env.int("GATEWAY_SMS_BATCH_LIMIT", default=3000),
        "rate_per_second": env.int("GATEWAY_SMS_RATE_PER_SECOND", default=20000),
    },
    "fw199": {
        "adapter": "providers.fw199.Fw199Adapter",
        "base_url": env.str("FW199_BASE_URL", default=SIMULATOR_URL),
        "app_id": env.str("FW199_APP_ID", default="sim-appid"),
        "app_secret": env.str("FW199_APP_SECRET", default="sim-app-secret"),
        "seller_nick": env.str("FW199_SELLER_NICK", default="sim-seller"),
        # Douyin order messages: the fw199 template per station business type and where each of
        # its named variables comes from; a malformed value stops every process at start-up
        # (providers.fw199.check_templates). The ids are placeholders the simulator knows; register
        # your own with fw199 and name them here.
        "templates": env_json(
            "FW199_TEMPLATES",
            default=json.dumps(
                {
                    "0": {"template_id": "ST_00000000", "params": {"order_id": "order_id"}},
                    "1": {"template_id": "ST_00000001", "params": {"order_id": "order_id"}},
                }
            ),
        ),
        "batch_limit": env.int("FW199_BATCH_LIMIT", default=100),
        "rate_per_second": env.int("FW199_RATE_PER_SECOND", default=500),
    },
    "sjroom": {
        "adapter": "providers.sjroom.SjroomAdapter",
        "base_url": env.str("SJROOM_BASE_URL", default=SIMULATOR_URL),
        "account": env.str("SJROOM_ACCOUNT", default="sim-account"),
        "password": env.str("SJROOM_PASSWORD", default="sim-password"),
        "batch_limit": env.int("SJROOM_BATCH_LIMIT", default=10000),
        "rate_per_second": env.int("SJROOM_RATE_PER_SECOND", default=10000),
    },
    # Test mode's sandbox (docs/api-platform.md "Test mode"): takes only the records of requests
    # made with a tenant's test password, sends nothing anywhere and bills nothing; no settings of
    # its own (the gateway's batch size, no rate limit: there is no provider to protect).
    "sandbox": {
        "adapter": "providers.sandbox.SandboxAdapter",
        "batch_limit": 3000,
        "rate_per_second": 0,
    },
}
