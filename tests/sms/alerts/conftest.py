"""Fixtures of the alert suites: one watched provider, the thresholds the docs give as defaults
made small where a test needs them, and a clock the evaluation is told (``evaluate(now=...)``)."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.core.cache import cache
from django.utils import timezone

from providers import balances


@pytest.fixture(autouse=True)
def alert_settings(settings):
    settings.SMS_BALANCE_PROVIDERS = ["tencent"]
    settings.SMS_ALERT_EMAILS = []
    settings.SMS_ALERT_WEBHOOK_URL = ""
    settings.SMS_ALERT_WEBHOOK_SECRET = ""
    settings.SMS_ALERT_WEBHOOK_TIMEOUT = 2.0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "alerts@gm.example"
    return settings


@pytest.fixture
def now() -> dt.datetime:
    return timezone.now().replace(microsecond=0)


def cache_provider_balance(provider: str, remaining: int, unit: str = "messages") -> None:
    """As beat's refresh leaves it (``providers.balances.refresh_balance``)."""
    cache.set(f"provider-balance:{provider}", {"remaining": remaining, "unit": unit}, timeout=300)
    assert balances.cached_balance(provider).remaining == remaining


@dataclass
class Receiver:
    """A local operator webhook: records each POST (headers, body) and answers ``status``."""

    url: str
    status: int = 200
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.posts.append((dict(self.headers.items()), body))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
