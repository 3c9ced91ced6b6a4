"""Django itself: production or a developer's machine, the secret key, hosts, the ports, the
installed apps and middleware, URLs and templates, language and time zone, static files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from gm_server_notify.settings.environment import BASE_DIR, VAR_DIR, env, env_list, persistent_secret

# --- Production or a developer's machine, the secret key -------------------------------------
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
            "var/secret_key (docs/configuration.md)."
        )
    SECRET_KEY = persistent_secret("secret_key")
ALLOWED_HOSTS = sorted({"127.0.0.1", "localhost", *env_list("DJANGO_ALLOWED_HOSTS")})
# The business clock (gm_server_notify/clock.py) of sending hours and scheduled sends: settable
# (an offset in the shared cache) for tests and local runs only, never in production.
GM_SETTABLE_CLOCK = env.bool("GM_SETTABLE_CLOCK", default=False)
if GM_SETTABLE_CLOCK and PRODUCTION:
    raise ImproperlyConfigured("GM_SETTABLE_CLOCK is for tests and local runs (GM_EMBEDDED_DEFAULTS=1) only")

# --- Ports: make run's front (nginx) and the provider simulator --------------------------------
PORT = env.int("PORT", default=8000)
SIMULATOR_PORT = env.int("SIMULATOR_PORT", default=8100)

# --- Apps, middleware, request size, URLs, templates ---------------------------------------
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
    "corsheaders",
    # Before axes: its failed-login receiver (log and count) runs before axes records the attempt.
    "gm_server_notify",
    # Before axes: its audited axes_reset* commands take the place of axes' own.
    "audit",
    "axes",
    "sms",
    "signatures",
    "templates_mgmt",
    "providers",
]

MIDDLEWARE = [
    "gm_server_notify.logging.RequestIdMiddleware",
    # Before any middleware that may answer (413, 404…), so that answer carries the CORS headers.
    "corsheaders.middleware.CorsMiddleware",
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

# --- Language and time zone -------------------------------------------------------------------
# API messages are English, as the seeds' own msg values ("ok", "auth not pass") are.
LANGUAGE_CODE = "en-us"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static files (WhiteNoise, no CDN) --------------------------------------------------------
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
