"""Django REST framework, the OpenAPI schema (drf-spectacular) and CORS for /sms/*
(django-cors-headers)."""

from __future__ import annotations

from gm_server_notify.settings.environment import env_list

# --- REST framework: JSON only; each API family sets its own auth and error body ---------------
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

# --- OpenAPI: /api/schema and /api/docs, served without a CDN -----------------------------------
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
    # Tag descriptions and both families' code tables (gm_server_notify.api.schema.describe_api).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "gm_server_notify.api.schema.describe_api",
    ],
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ServiceToken": {"type": "http", "scheme": "bearer"},
            "TenantBasic": {"type": "http", "scheme": "basic"},
        }
    },
}

# --- CORS (django-cors-headers): off unless origins are listed ----------------------------------
# The browser origins (scheme://host[:port], comma-separated) allowed to call the station API
# directly; each should hold a station-bound token (docs/security.md). Empty: no CORS headers, so
# browsers refuse cross-origin calls. Only /sms/* (not its provider push /sms/callback) answers.
CORS_ALLOWED_ORIGINS = env_list("SMS_CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/sms/(?!callback$)"
CORS_ALLOW_METHODS = ("GET", "POST", "OPTIONS")
CORS_ALLOW_HEADERS = ("authorization", "content-type", "idempotency-key")
# Bearer tokens, never cookies: no credentials mode.
CORS_ALLOW_CREDENTIALS = False
# The answer headers a browser client may read: a replay's mark, and when to retry a 503.
CORS_EXPOSE_HEADERS = ("Idempotent-Replayed", "Retry-After")
