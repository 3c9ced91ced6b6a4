"""HTTPS in production: the redirect, HSTS and Secure cookies (docs/deploy.md)."""

from __future__ import annotations

from gm_server_notify.settings.core import PRODUCTION
from gm_server_notify.settings.environment import env

# --- HTTPS-only in production, off on a developer's machine -----------------------------------
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
