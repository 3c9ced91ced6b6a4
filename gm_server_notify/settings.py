"""Settings for gm_server_notify.

Every setting comes from an environment variable (see README.md for the full list and
defaults). With nothing set the service runs on embedded defaults: SQLite, kombu's filesystem
broker and a file cache, all under ``var/``. Every provider's base URL defaults to the local
simulator, so no default ever reaches a real vendor.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("GM_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()


def _persistent_secret(name: str) -> str:
    """Return a random secret kept in ``var/`` so every local process shares it.

    Used only when the operator did not set the variable: nothing secret lives in the code.
    """
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _csv(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env.str(name, default=default).split(",") if item.strip()]


# Douyin messages are order notices: business types 0 (mall order) and 1 (order on behalf).
FW199_BUSINESS_TYPES = ("0", "1")


def _fw199_templates(raw: str) -> dict[str, dict[str, Any]]:
    """``FW199_TEMPLATES``: a JSON object, station business type ("0", "1") → ``{"template_id":
    "ST_…", "params": {"<the template's variable>": "<the sms_content field that fills it>"}}``.
    Anything else stops the process at start-up, naming what is wrong."""

    def refuse(problem: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(f"FW199_TEMPLATES: {problem} (README.md, Configuration)")

    try:
        templates = json.loads(raw)
    except ValueError as exc:
        raise refuse("not JSON") from exc
    if not isinstance(templates, dict):
        raise refuse("not a JSON object of business types")
    for kind, entry in templates.items():
        if kind not in FW199_BUSINESS_TYPES:
            raise refuse(f"business type {kind!r}: Douyin messages are of type 0 or 1")
        if not isinstance(entry, dict) or set(entry) != {"template_id", "params"}:
            raise refuse(f"type {kind}: an object of template_id and params")
        template_id, params = entry["template_id"], entry["params"]
        if not isinstance(template_id, str) or not template_id.strip():
            raise refuse(f"type {kind}: template_id is empty")
        if not isinstance(params, dict) or not params:
            raise refuse(f"type {kind}: params is not an object of the template's variables")
        if not all(
            isinstance(name, str) and name and isinstance(field, str) and field
            for name, field in params.items()
        ):
            raise refuse(f"type {kind}: params maps variable names to sms_content field names")
    return templates


# --- Core -------------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Set by the developer entry points only (make run, make test, the Makefile, tests/settings.py): the
# secret key may be generated into var/ and the HTTPS-only settings stay off. Everything else (DEBUG
# off, this unset) is production: it needs DJANGO_SECRET_KEY and passes `manage.py check --deploy`.
EMBEDDED_DEFAULTS = env.bool("GM_EMBEDDED_DEFAULTS", default=False)
PRODUCTION = not DEBUG and not EMBEDDED_DEFAULTS
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Production (DJANGO_DEBUG off, GM_EMBEDDED_DEFAULTS unset) "
            "refuses to start without it; set one long random value shared by every process. On a "
            "developer's machine, `make run` sets GM_EMBEDDED_DEFAULTS=1 and keeps a generated key in "
            "var/secret_key (README.md, Configuration)."
        )
    SECRET_KEY = _persistent_secret("secret_key")
ALLOWED_HOSTS = sorted({"127.0.0.1", "localhost", *_csv("DJANGO_ALLOWED_HOSTS")})
# The business clock (gm_server_notify/clock.py) of sending hours and scheduled sends: settable
# (an offset in the shared cache) for tests and local runs only, never in production.
GM_SETTABLE_CLOCK = env.bool("GM_SETTABLE_CLOCK", default=False)
if GM_SETTABLE_CLOCK and PRODUCTION:
    raise ImproperlyConfigured("GM_SETTABLE_CLOCK is for tests and local runs (GM_EMBEDDED_DEFAULTS=1) only")
PORT = env.int("PORT", default=8000)
SIMULATOR_PORT = env.int("SIMULATOR_PORT", default=8100)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Before axes: its failed-login receiver (log and count) runs before axes records the attempt.
    "gm_server_notify",
    "axes",
    "sms",
    "signatures",
    "templates_mgmt",
    "providers",
]

MIDDLEWARE = [
    "gm_server_notify.logging.RequestIdMiddleware",
    "gm_server_notify.api.errors.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns an admin login refused by the lockout into a 429 page.
    "axes.middleware.AxesMiddleware",
]

# The largest request body accepted (413 beyond it); a 10,000-mobile v1/message is about 160 KB.
REQUEST_BODY_MAX_BYTES = env.int("REQUEST_BODY_MAX_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_MAX_BYTES

# The seeds' paths have no trailing slash; never redirect to one.
APPEND_SLASH = False
ROOT_URLCONF = "gm_server_notify.urls"
WSGI_APPLICATION = "gm_server_notify.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "gm_server_notify" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- HTTPS (production) -------------------------------------------------------------------------
# nginx terminates TLS and tells gunicorn the scheme in X-Forwarded-Proto (it sets that header
# itself, never passing on a client's). In production every page is HTTPS-only: plain HTTP is
# redirected, HSTS is sent and cookies are Secure. The probes are exempt from the redirect: the
# orchestrator calls them over plain HTTP inside the network (docs/deploy.md).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=PRODUCTION)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- Database ---------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'gm_server_notify.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "charset": "utf8mb4",
            # Workers claim rows with SELECT … FOR UPDATE SKIP LOCKED; READ COMMITTED avoids
            # REPEATABLE READ's gap locks blocking concurrent inserts of send records.
            "isolation_level": "read committed",
            # A database that does not answer fails fast: requests answer and handlers fall back
            # (provider pushes are queued) instead of hanging on the connect.
            "connect_timeout": env.int("DATABASE_CONNECT_TIMEOUT", default=3),
        }
    )
    DATABASES["default"]["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # The embedded database, shared by every process of make run. A transaction takes the
            # write lock when it begins: two that read first and then write (two workers claiming
            # records) would otherwise deadlock, and SQLite answers one of them "database is
            # locked" at once. A transaction waits this many seconds for the lock.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (Redis when REDIS_URL is set) -------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="gmsn"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Auth, i18n, static -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# API messages are English, as the seeds' own msg values ("ok", "auth not pass") are.
LANGUAGE_CODE = "en-us"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
# Plotly's browser bundle, from the plotly package on PyPI, served as /static/plotly/plotly.min.js:
# the dashboard needs no CDN (operators' networks may be closed).
STATICFILES_DIRS = [("plotly", str(Path(importlib.util.find_spec("plotly").origin).parent / "package_data"))]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve assets straight from the apps when collectstatic has not run (tests, make test-fast).
WHITENOISE_USE_FINDERS = True

# --- REST framework and OpenAPI ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["gm_server_notify.api.parsers.StrictJSONParser"],
    # Each API family sets its own authentication and error envelope on its base view.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "EXCEPTION_HANDLER": "gm_server_notify.api.errors.fallback_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "gm_server_notify.api.schema.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "gm_server_notify",
    "DESCRIPTION": (
        "SMS back end of the food-supply SaaS platform: the station `/sms/*` API (bearer "
        "token, `{code, msg, data}` envelope) and the tenant `v1/*`/`v2/*` API (HTTP Basic, "
        "`{error, message}` errors)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ServiceToken": {"type": "http", "scheme": "bearer"},
            "TenantBasic": {"type": "http", "scheme": "basic"},
        }
    },
}

# --- The station API's clients and the provider callbacks' shared secret ----------------------
# Named, scoped clients of /sms/* and /metrics: a JSON list of {"name", "token", "scopes"}, scopes
# among send, recharge, read, metrics (gm_server_notify.api.auth.configured_clients checks them).
SMS_SERVICE_CLIENTS = json.loads(env.str("SMS_SERVICE_CLIENTS", default="[]"))
# The older single list of tokens: each is a client named token-1, token-2… with every scope.
# Neither set means closed: every /sms/* call is refused.
SMS_SERVICE_TOKENS = _csv("SMS_SERVICE_TOKENS")
SMS_CALLBACK_TOKEN = env.str("SMS_CALLBACK_TOKEN", default="")
# A secret per provider for its pushes (JSON, e.g. {"tencent": "…", "gateway": "…"}); a provider
# without one falls back to SMS_CALLBACK_TOKEN. One provider's secret never opens another's route.
SMS_CALLBACK_TOKENS: dict[str, str] = json.loads(env.str("SMS_CALLBACK_TOKENS", default="{}"))

# --- Login lockout (django-axes) for the v1/v2 Basic auth and the admin login --------------------
# A username is locked for one client address after AUTH_FAILURE_LIMIT failed logins from that
# address, none older than AUTH_FAILURE_WINDOW_SECONDS before the latest; the lock lifts that long
# after the last counted failure. Other usernames and other addresses are not affected.
AUTH_FAILURE_LIMIT = env.int("AUTH_FAILURE_LIMIT", default=20)
AUTH_FAILURE_WINDOW_SECONDS = env.int("AUTH_FAILURE_WINDOW_SECONDS", default=300)
# A verified Basic-auth credential is trusted this long without re-running the password hash.
AUTH_CACHE_SECONDS = env.int("AUTH_CACHE_SECONDS", default=300)
# The reverse proxies in front of the service, one entry (IP, CIDR or prefix) per hop in the order a
# request passes them, the one connecting to the service last. Only then is X-Forwarded-For read
# (django-ipware); empty: the client address is REMOTE_ADDR and X-Forwarded-For is ignored.
TRUSTED_PROXIES = _csv("TRUSTED_PROXIES")
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked username before any password is checked.
    "axes.backends.AxesBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Attempts are kept in the database (AccessAttempt rows, visible and resettable in the admin and
# with `manage.py axes_reset_username`): they survive a Redis restart or flush, and the counter is
# updated under a row lock. gm_server_notify.lockout serialises the attempts on one username from
# one address, so the check and the count are one step.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Read at each attempt, so AUTH_FAILURE_LIMIT and AUTH_FAILURE_WINDOW_SECONDS stay the settings.
AXES_FAILURE_LIMIT = "gm_server_notify.lockout.failure_limit"
AXES_COOLOFF_TIME = "gm_server_notify.lockout.cool_off"
AXES_CLIENT_IP_CALLABLE = "gm_server_notify.lockout.client_address"
AXES_LOCKOUT_CALLABLE = "gm_server_notify.lockout.lockout_response"
# A refused attempt while locked is not counted: the lock lifts on time, whatever the attacker does.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A success does not wipe the failures: a tenant's own login must not reset an attacker's count.
AXES_RESET_ON_SUCCESS = False
# Usernames and addresses appear in axes' log lines; passwords never do (axes always masks them).
AXES_SENSITIVE_PARAMETERS = []

# --- Providers --------------------------------------------------------------------------------
SIMULATOR_URL = f"http://127.0.0.1:{SIMULATOR_PORT}"
SMS_DEFAULT_PROVIDER = env.str("SMS_DEFAULT_PROVIDER", default="tencent")
SMS_TENANT_PROVIDER = env.str("SMS_TENANT_PROVIDER", default="gateway")
SMS_INTERNATIONAL_PROVIDER = env.str("SMS_INTERNATIONAL_PROVIDER", default="sjroom")
SMS_DOUYIN_PROVIDER = env.str("SMS_DOUYIN_PROVIDER", default="fw199")
# Failover chains, one per region (sms/routing.py): when a batch's provider stays unavailable,
# the next provider of its region's chain that serves the region and can carry the batch takes it.
# SMS_FAILOVER is the deprecated name of the mainland chain, read only when SMS_FAILOVER_MAINLAND
# is unset (`manage.py check` warns while it is set).
SMS_FAILOVER = _csv("SMS_FAILOVER")
SMS_FAILOVER_MAINLAND = _csv(
    "SMS_FAILOVER_MAINLAND", default=",".join(SMS_FAILOVER) if SMS_FAILOVER else "tencent,gateway"
)
SMS_FAILOVER_INTERNATIONAL = _csv("SMS_FAILOVER_INTERNATIONAL", default="sjroom")
# Message text per station business type (0 mall order, 1 order on behalf, 2 registration);
# the signature is prefixed as 【name】. Tencent sends its own registered templates instead
# (TENCENT_SMS_TEMPLATE_IDS), with the order id or code as the one parameter.
SMS_STATION_TEMPLATES = json.loads(
    env.str(
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
)
PROVIDER_HTTP_TIMEOUT = env.float("PROVIDER_HTTP_TIMEOUT", default=5.0)
# The gateway's answer code for a repeated taskId: the batch is already there (not an error).
GATEWAY_DUPLICATE_TASK_CODE = env.str("GATEWAY_DUPLICATE_TASK_CODE", default="08")
# The pipeline: retries of an unavailable provider (exponential backoff with full jitter) before
# the batch fails over to the next provider of its region's chain (SMS_FAILOVER_MAINLAND or
# SMS_FAILOVER_INTERNATIONAL).
SMS_PROVIDER_MAX_RETRIES = env.int("SMS_PROVIDER_MAX_RETRIES", default=5)
SMS_RETRY_BASE_SECONDS = env.float("SMS_RETRY_BASE_SECONDS", default=1.0)
SMS_RETRY_MAX_SECONDS = env.float("SMS_RETRY_MAX_SECONDS", default=60.0)
# Sweeps: records queued longer than this are published again (their task was lost); records
# left sending longer than this belong to a dispatch whose worker died; records accepted but
# unreported longer than this fail. Providers whose reports are pulled, and whose balance is kept.
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
SMS_PULL_REPORT_PROVIDERS = _csv("SMS_PULL_REPORT_PROVIDERS", default="sjroom,gateway")
# Providers whose uplinks (replies) beat pulls every SMS_SWEEP_SECONDS: those whose uplink push is
# off (the gateway's /api/v1/mo, Tencent's PullSmsReplyStatus). Empty: every uplink is pushed.
SMS_PULL_UPLINK_PROVIDERS = _csv("SMS_PULL_UPLINK_PROVIDERS", default="")
# An uplink answers the last message its number received within this many days (sms.uplinks).
SMS_UPLINK_MATCH_DAYS = env.int("SMS_UPLINK_MATCH_DAYS", default=7)
if not 1 <= SMS_UPLINK_MATCH_DAYS <= 366:
    raise ImproperlyConfigured("SMS_UPLINK_MATCH_DAYS must be between 1 and 366")
SMS_BALANCE_PROVIDERS = _csv("SMS_BALANCE_PROVIDERS", default="tencent,gateway,sjroom")
# A dispatch waits at most this long for its provider's rate limit before it is put off.
SMS_RATE_LIMIT_MAX_WAIT = env.float("SMS_RATE_LIMIT_MAX_WAIT", default=2.0)
# Reports that matched no record are kept this long (they may overtake the worker's commit).
PENDING_REPORT_MAX_AGE_SECONDS = env.int("PENDING_REPORT_MAX_AGE_SECONDS", default=7 * 86400)
# statistics_overview's gm_balance: cached this long; a cold cache waits at most this long.
PROVIDER_BALANCE_CACHE_SECONDS = env.int("PROVIDER_BALANCE_CACHE_SECONDS", default=300)
PROVIDER_BALANCE_TIMEOUT = env.float("PROVIDER_BALANCE_TIMEOUT", default=1.5)

SMS_PROVIDERS = {
    "tencent": {
        "endpoint": env.str("TENCENT_SMS_ENDPOINT", default=SIMULATOR_URL),
        "secret_id": env.str("TENCENT_SECRET_ID", default="sim-secret-id"),
        "secret_key": env.str("TENCENT_SECRET_KEY", default="sim-secret-key"),
        "sdk_app_id": env.str("TENCENT_SMS_SDK_APP_ID", default="1400000001"),
        "region": env.str("TENCENT_SMS_REGION", default="ap-guangzhou"),
        "sign_name": env.str("TENCENT_SMS_SIGN_NAME", default="去采购"),
        "template_ids": json.loads(
            env.str("TENCENT_SMS_TEMPLATE_IDS", default='{"0": "1001", "1": "1002", "2": "1003"}')
        ),
        "batch_limit": env.int("TENCENT_SMS_BATCH_LIMIT", default=200),
        "rate_per_second": env.int("TENCENT_SMS_RATE_PER_SECOND", default=1000),
    },
    "gateway": {
        "base_url": env.str("GATEWAY_SMS_BASE_URL", default=SIMULATOR_URL),
        "account": env.str("GATEWAY_SMS_ACCOUNT", default="sim-account"),
        "password": env.str("GATEWAY_SMS_PASSWORD", default="sim-password"),
        "ext_no": env.str("GATEWAY_SMS_EXT_NO", default=""),
        "batch_limit": env.int("GATEWAY_SMS_BATCH_LIMIT", default=3000),
        "rate_per_second": env.int("GATEWAY_SMS_RATE_PER_SECOND", default=20000),
    },
    "fw199": {
        "base_url": env.str("FW199_BASE_URL", default=SIMULATOR_URL),
        "app_id": env.str("FW199_APP_ID", default="sim-appid"),
        "app_secret": env.str("FW199_APP_SECRET", default="sim-app-secret"),
        "seller_nick": env.str("FW199_SELLER_NICK", default="sim-seller"),
        # Douyin order messages: the fw199 template per station business type and where each of
        # its named variables comes from (see _fw199_templates). The ids are placeholders the
        # simulator knows; register your own with fw199 and name them here.
        "templates": _fw199_templates(
            env.str(
                "FW199_TEMPLATES",
                default=json.dumps(
                    {
                        "0": {"template_id": "ST_00000000", "params": {"order_id": "order_id"}},
                        "1": {"template_id": "ST_00000001", "params": {"order_id": "order_id"}},
                    }
                ),
            )
        ),
        "batch_limit": env.int("FW199_BATCH_LIMIT", default=100),
        "rate_per_second": env.int("FW199_RATE_PER_SECOND", default=500),
    },
    "sjroom": {
        "base_url": env.str("SJROOM_BASE_URL", default=SIMULATOR_URL),
        "account": env.str("SJROOM_ACCOUNT", default="sim-account"),
        "password": env.str("SJROOM_PASSWORD", default="sim-password"),
        "batch_limit": env.int("SJROOM_BATCH_LIMIT", default=10000),
        "rate_per_second": env.int("SJROOM_RATE_PER_SECOND", default=10000),
    },
}

# --- Celery -----------------------------------------------------------------------------------
# kombu's filesystem transport ignores the host, but warns on every connection that has none.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost/")
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # An unacknowledged task (its worker was killed) is delivered again after this long.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=600)
    }
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),
    }
    # This transport has no event loop: the worker's timer thread sleeps up to this long between
    # checks, and a warm shutdown waits for it (1 s by default; a Redis or AMQP broker has no such
    # thread).
    CELERY_WORKER_TIMER_PRECISION = 0.1
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish that meets a broker restarting is retried for about ten seconds (0, 0.5, 1, 1, … s)
# before it is given up to the re-dispatch sweep: a broker restart does not leave work waiting.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": env.int("CELERY_PUBLISH_MAX_RETRIES", default=10),
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Dispatch and report work on queues of their own, so a flood of one never starves the other.
# Tenant webhooks (sms.webhooks) have a queue of their own too, consumed by a worker of their own
# under make run: a slow receiver never takes a slot the sending pipeline needs.
CELERY_TASK_QUEUES = (Queue("default"), Queue("sms_dispatch"), Queue("sms_reports"), Queue("sms_webhooks"))
CELERY_TASK_ROUTES = {
    "sms.apply_provider_push": {"queue": "sms_reports"},
    "sms.purge_idempotency_keys": {"queue": "sms_reports"},
    "sms.dispatch_records": {"queue": "sms_dispatch"},
    "sms.sweep_pending_reports": {"queue": "sms_reports"},
    "sms.pull_reports": {"queue": "sms_reports"},
    "sms.pull_uplinks": {"queue": "sms_reports"},
    "sms.sweep_stale_records": {"queue": "sms_reports"},
    "sms.refresh_provider_balances": {"queue": "sms_reports"},
    "sms.deliver_webhooks": {"queue": "sms_webhooks"},
    "sms.sweep_webhooks": {"queue": "sms_webhooks"},
    "sms.release_scheduled": {"queue": "sms_reports"},
}
# Transient infrastructure errors (database, cache, broker unreachable): a task is retried with
# backoff this many times; a push queued while the database was down, many more (it exists nowhere
# else); a provider's answer is written again in place for this long (it exists only in memory).
SMS_INFRA_MAX_RETRIES = env.int("SMS_INFRA_MAX_RETRIES", default=20)
SMS_PUSH_APPLY_MAX_RETRIES = env.int("SMS_PUSH_APPLY_MAX_RETRIES", default=200)
SMS_OUTCOME_RETRY_SECONDS = env.int("SMS_OUTCOME_RETRY_SECONDS", default=300)
# One recharge may add at most this many messages and this much money (fat-finger ceilings).
SMS_RECHARGE_MAX_NUMS = env.int("SMS_RECHARGE_MAX_NUMS", default=10_000_000)
SMS_RECHARGE_MAX_MONEY = Decimal(env.str("SMS_RECHARGE_MAX_MONEY", default="1000000.00"))
# A record added (send/add) but not started (send/start) within this hold expires and its reserved
# balance comes back.
SMS_UNSTARTED_HOLD_SECONDS = env.int("SMS_UNSTARTED_HOLD_SECONDS", default=86400)
# Verify codes (station business type 2, tenant templates of type 1) one mobile may get: sliding
# windows "count/period" (s, m, h, d), comma-separated; empty for none.
SMS_VERIFY_LIMITS = env.str("SMS_VERIFY_LIMITS", default="1/60s,5/1h,10/1d")
# Messages a station may add per China-time day (0: no cap).
SMS_STATION_DAILY_CAP = env.int("SMS_STATION_DAILY_CAP", default=0)
# Idempotency-Key: how long a key's answer is kept, and after how long a claim whose request never
# finished is taken over by the next request with that key.
IDEMPOTENCY_TTL_SECONDS = env.int("IDEMPOTENCY_TTL_SECONDS", default=86400)
IDEMPOTENCY_LOCK_SECONDS = env.int("IDEMPOTENCY_LOCK_SECONDS", default=60)
_SWEEP_SECONDS = env.int("SMS_SWEEP_SECONDS", default=15)


def _hours(name: str, default: str) -> tuple[int, int] | None:
    """``HH:MM-HH:MM`` (or ``HH:MM:SS``), China time: the seconds of the day a window opens and
    closes (closing excluded; ``24:00`` is midnight; an opening after the closing spans midnight).
    Empty: no window."""
    raw = env.str(name, default=default).strip()
    if not raw:
        return None

    def seconds(part: str) -> int:
        pieces = part.strip().split(":")
        if len(pieces) not in (2, 3) or not all(piece.isdigit() for piece in pieces):
            raise ImproperlyConfigured(f"{name}: {raw!r} is not HH:MM-HH:MM (China time)")
        hours, minutes, secs = (int(piece) for piece in [*pieces, "0"][:3])
        value = hours * 3600 + minutes * 60 + secs
        if minutes > 59 or secs > 59 or value > 86400:
            raise ImproperlyConfigured(f"{name}: {part!r} is not a time of day")
        return value

    opening, _, closing = raw.partition("-")
    window = (seconds(opening), seconds(closing))
    if window[0] == window[1]:
        raise ImproperlyConfigured(f"{name}: the window {raw!r} is empty (leave it empty for none)")
    return window


# Marketing (template type 3): sent only within these hours, China time; a batch accepted outside
# them is held (scheduled) and released at the next opening (docs/api-platform.md, "Marketing").
SMS_MARKETING_HOURS = _hours("SMS_MARKETING_HOURS", "08:00-21:00")
# POST v1/message's send_at: at most this many days ahead.
SMS_SEND_AT_MAX_DAYS = env.int("SMS_SEND_AT_MAX_DAYS", default=30)
# A reply whose text (NFKC, trimmed, case-folded) is one of these opts its number out of the
# marketing of the signature it answered (sms/optout.py).
SMS_OPT_OUT_KEYWORDS = [
    keyword.casefold() for keyword in _csv("SMS_OPT_OUT_KEYWORDS", "T,TD,N,R,退订,取消,拒收,unsubscribe,stop")
]
# A marketing template must carry an opt-out instruction: 回T退订, 退订回T, 拒收请回复R, 回TD退订, or
# one of these more (templates_mgmt.services.OPT_OUT_HINTS).
SMS_OPT_OUT_HINTS = _csv("SMS_OPT_OUT_HINTS")


def _durations(name: str, default: str) -> list[float]:
    """A comma-separated list of durations (``10s,1m,5m,30m,2h``; a bare number is seconds)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    durations = []
    for item in _csv(name, default=default):
        number, unit = (item[:-1], item[-1]) if item[-1] in units else (item, "s")
        try:
            seconds = float(number) * units[unit]
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {item!r} is not a duration such as 10s, 1m or 2h") from exc
        if not 0 <= seconds <= 7 * 86400:
            raise ImproperlyConfigured(f"{name}: {item!r} is outside 0 s to 7 d")
        durations.append(seconds)
    return durations


# Tenant webhooks (docs/api-platform.md, "Delivery webhooks"): how long a receiver may take to
# answer one POST; the waits before each retry of a POST that failed (then its events are dead);
# whether a callback URL may resolve to a loopback, private, link-local or multicast address
# (never in production: a tenant could make the service probe the internal network); how long the
# host's name may take to resolve; events per POST (at most 100).
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=5.0)
WEBHOOK_RETRY_SCHEDULE = _durations("WEBHOOK_RETRY_SCHEDULE", "10s,1m,5m,30m,2h")
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=False)
WEBHOOK_DNS_TIMEOUT = env.float("WEBHOOK_DNS_TIMEOUT", default=2.0)
WEBHOOK_MAX_EVENTS_PER_POST = env.int("WEBHOOK_MAX_EVENTS_PER_POST", default=100)
if not 1 <= WEBHOOK_MAX_EVENTS_PER_POST <= 100:
    raise ImproperlyConfigured("WEBHOOK_MAX_EVENTS_PER_POST must be between 1 and 100")
CELERY_BEAT_SCHEDULE = {
    "sweep-pending-reports": {
        "task": "sms.sweep_pending_reports",
        "schedule": timedelta(seconds=_SWEEP_SECONDS),
    },
    "sweep-stale-records": {"task": "sms.sweep_stale_records", "schedule": timedelta(seconds=_SWEEP_SECONDS)},
    "pull-reports": {"task": "sms.pull_reports", "schedule": timedelta(seconds=_SWEEP_SECONDS)},
    "pull-uplinks": {"task": "sms.pull_uplinks", "schedule": timedelta(seconds=_SWEEP_SECONDS)},
    "refresh-provider-balances": {
        "task": "sms.refresh_provider_balances",
        "schedule": timedelta(seconds=env.int("PROVIDER_BALANCE_REFRESH_SECONDS", default=300)),
    },
    "purge-idempotency-keys": {"task": "sms.purge_idempotency_keys", "schedule": timedelta(hours=1)},
    "sweep-webhooks": {"task": "sms.sweep_webhooks", "schedule": timedelta(seconds=_SWEEP_SECONDS)},
    # Held batches (send_at, marketing hours) go out within one sweep of their time.
    "release-scheduled": {"task": "sms.release_scheduled", "schedule": timedelta(seconds=_SWEEP_SECONDS)},
    "worker-heartbeat": {
        "task": "gm_server_notify.tasks.record_worker_heartbeat",
        "schedule": timedelta(seconds=env.int("WORKER_HEARTBEAT_SECONDS", default=30)),
    },
}
# /readyz counts the workers as down when the last heartbeat is older than this (three missed beats).
READINESS_HEARTBEAT_MAX_AGE = env.int(
    "READINESS_HEARTBEAT_MAX_AGE", default=3 * env.int("WORKER_HEARTBEAT_SECONDS", default=30)
)
# How long /readyz waits for each dependency to answer.
READINESS_TIMEOUT_SECONDS = env.float("READINESS_TIMEOUT_SECONDS", default=2.0)

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# json (one object per line, for log shippers) or plain (for a terminal).
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "gm_server_notify.logging.RequestIdFilter"},
        "mask_phones": {"()": "gm_server_notify.logging.MaskPhonesFilter"},
    },
    "formatters": {
        # Times in ISO 8601, UTC (docs/operations.md, "Logs").
        "json": {
            "()": "gm_server_notify.logging.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "plain": {
            "()": "gm_server_notify.logging.PlainFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT if LOG_FORMAT in ("json", "plain") else "json",
            "filters": ["request_id", "mask_phones"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django logs every 4xx with the request path; our handlers log what matters.
        "django.request": {"level": "ERROR"},
        # billiard's (Celery's process pool): in our format; Celery would give it a format of its own.
        "multiprocessing": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
