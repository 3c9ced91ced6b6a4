"""Django REST framework and the OpenAPI schema (drf-spectacular)."""

from __future__ import annotations

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
