"""Who may call: the station API's clients, the providers' callback secrets, the tenants' login
lockout (django-axes) and the proxies whose X-Forwarded-For is believed."""

from __future__ import annotations

from gm_server_notify.settings.environment import env, env_json, env_list

# --- The station API's clients (/sms/*, /metrics) ------------------------------------------------
# Named, scoped clients of /sms/* and /metrics: a JSON list of {"name", "token", "scopes"}, scopes
# among send, recharge, read, metrics (gm_server_notify.api.auth.configured_clients checks them).
SMS_SERVICE_CLIENTS = env_json("SMS_SERVICE_CLIENTS", default="[]")
# The older single list of tokens: each is a client named token-1, token-2… with every scope.
# Neither set means closed: every /sms/* call is refused.
SMS_SERVICE_TOKENS = env_list("SMS_SERVICE_TOKENS")

# --- The providers' callbacks: shared secrets ---------------------------------------------------
SMS_CALLBACK_TOKEN = env.str("SMS_CALLBACK_TOKEN", default="")
# A secret per provider for its pushes (JSON, e.g. {"tencent": "…", "gateway": "…"}); a provider
# without one falls back to SMS_CALLBACK_TOKEN. One provider's secret never opens another's route.
SMS_CALLBACK_TOKENS: dict[str, str] = env_json("SMS_CALLBACK_TOKENS", default="{}")

# --- Passwords and authentication backends --------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked username before any password is checked.
    "axes.backends.AxesBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Last: a tenant's test password, for the tenant API only (docs/api-platform.md "Test mode").
    "sms.tenant_api.credentials.TestPasswordBackend",
]
# A verified Basic-auth credential is trusted this long without re-running the password hash.
AUTH_CACHE_SECONDS = env.int("AUTH_CACHE_SECONDS", default=300)

# --- Login lockout (django-axes) for the v1/v2 Basic auth and the admin login --------------------
# A username is locked for one client address after AUTH_FAILURE_LIMIT failed logins from that
# address, none older than AUTH_FAILURE_WINDOW_SECONDS before the latest; the lock lifts that long
# after the last counted failure. Other usernames and other addresses are not affected.
AUTH_FAILURE_LIMIT = env.int("AUTH_FAILURE_LIMIT", default=20)
AUTH_FAILURE_WINDOW_SECONDS = env.int("AUTH_FAILURE_WINDOW_SECONDS", default=300)
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

# --- The client's address behind reverse proxies --------------------------------------------------
# The reverse proxies in front of the service, one entry (IP, CIDR or prefix) per hop in the order a
# request passes them, the one connecting to the service last. Only then is X-Forwarded-For read
# (django-ipware); empty: the client address is REMOTE_ADDR and X-Forwarded-For is ignored.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
