"""The provider simulator's HTTP server.

A plain ``ThreadingHTTPServer`` from the standard library: the simulator must start with no
database, broker or Django, in tests, benchmarks and ``make run`` alike. Each provider protocol
(``providers/simulator/tencent.py`` …) registers its routes with ``@route``. The ``/_sim/*``
routes let tests and benchmarks read what each provider received and steer its behaviour.

Behaviour chosen by the number (last four digits), the same for every provider:

| suffix | effect |
| --- | --- |
| ``0004`` | accepted, then reported undelivered |
| ``0005`` | refused at submit (per-number failure) |
| ``0500`` | the whole request answers HTTP 500 |
| ``0408`` | the whole request hangs for ``hang_seconds`` (the client times out) |

``POST /_sim/config`` sets: ``latency_ms`` (added to every request), ``failure_rate`` (0..1 of
requests answered HTTP 500), ``fail_next`` (the next N send requests answer HTTP 500),
``down`` (list of providers answering HTTP 503 until removed), ``report_delay_ms``, ``push``
(whether reports are pushed or held for the pull APIs), ``push_targets`` (per provider:
``{"status": url, "uplink": url}``) and ``hang_seconds``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

logger = logging.getLogger("providers.simulator")

UNDELIVERED_SUFFIX = "0004"
REFUSED_SUFFIX = "0005"
SERVER_ERROR_SUFFIX = "0500"
HANG_SUFFIX = "0408"


@dataclass
class SimRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        return {key: values[-1] for key, values in parsed.items()}


@dataclass
class SimResponse:
    status: int = 200
    body: Any = None
    content_type: str = "application/json; charset=utf-8"

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


class Hang(Exception):
    """Raised by a handler to make the request hang (a provider timeout)."""


@dataclass
class SimConfig:
    latency_ms: float = 0.0
    failure_rate: float = 0.0
    fail_next: int = 0
    down: set[str] = field(default_factory=set)
    report_delay_ms: float = 200.0
    push: bool = True
    push_targets: dict[str, dict[str, str]] = field(default_factory=dict)
    hang_seconds: float = 10.0


@dataclass
class SimState:
    """What every provider received, the reports it holds, and how it behaves."""

    config: SimConfig = field(default_factory=SimConfig)
    lock: threading.Lock = field(default_factory=threading.Lock)
    received: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    requests: Counter[str] = field(default_factory=Counter)
    refused_requests: Counter[str] = field(default_factory=Counter)
    # Reports held for the pull APIs, and uplinks injected, per provider.
    held_reports: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    held_uplinks: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    # Per-provider scratch space for protocol modules (sjroom batches, gateway task ids …).
    extra: dict[str, dict[str, Any]] = field(default_factory=lambda: defaultdict(dict))
    pusher: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=4))
    # Status reports pushed, and those the receiver acknowledged with a 2xx (providers push once).
    reports_pushed: Counter[str] = field(default_factory=Counter)
    reports_acknowledged: Counter[str] = field(default_factory=Counter)
    balances: dict[str, int] = field(default_factory=lambda: defaultdict(lambda: 100000))

    def record(self, provider: str, numbers: list[str]) -> None:
        """Count the numbers a provider took in one accepted request."""
        with self.lock:
            self.requests[provider] += 1
            self.received[provider].update(numbers)
            self.balances[provider] -= len(numbers)

    def refuse(self, provider: str) -> None:
        with self.lock:
            self.refused_requests[provider] += 1

    def stats(self) -> dict[str, Any]:
        with self.lock:
            stats = {}
            for provider in set(self.received) | set(self.refused_requests):
                counter = self.received[provider]
                stats[provider] = {
                    "requests": self.requests[provider],
                    "refused_requests": self.refused_requests[provider],
                    "numbers": sum(counter.values()),
                    "distinct_numbers": len(counter),
                    "duplicated_numbers": sum(1 for count in counter.values() if count > 1),
                    "reports_pushed": self.reports_pushed[provider],
                    "reports_acknowledged": self.reports_acknowledged[provider],
                }
            return stats

    def times_received(self, provider: str, number: str) -> int:
        with self.lock:
            return self.received[provider][number]

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.requests.clear()
            self.refused_requests.clear()
            self.held_reports.clear()
            self.held_uplinks.clear()
            self.reports_pushed.clear()
            self.reports_acknowledged.clear()
            self.extra.clear()
            self.balances.clear()
            self.config = SimConfig(push_targets=self.config.push_targets)

    # --- fault injection, asked by every provider's send handler ---

    def fault_for(self, provider: str, numbers: list[str]) -> SimResponse | None:
        """An HTTP failure this send request should get instead of being processed, if any."""
        config = self.config
        if config.latency_ms:
            time.sleep(config.latency_ms / 1000)
        if provider in config.down:
            return SimResponse(503, {"error": f"{provider} is down"})
        with self.lock:
            if config.fail_next > 0:
                config.fail_next -= 1
                return SimResponse(500, {"error": "injected failure"})
        if config.failure_rate and random.random() < config.failure_rate:
            return SimResponse(500, {"error": "injected failure"})
        if any(number.endswith(SERVER_ERROR_SUFFIX) for number in numbers):
            return SimResponse(500, {"error": "server error"})
        if any(number.endswith(HANG_SUFFIX) for number in numbers):
            raise Hang
        return None

    # --- reports: pushed after a delay, or held for pulling ---

    def deliver_reports(
        self, provider: str, reports: list[dict[str, Any]], push: Callable[[str, list[dict[str, Any]]], int]
    ) -> None:
        """Push ``reports`` to the provider's status target after the report delay, or hold
        them for the pull API when pushing is off or no target is set. ``push`` answers how many
        of them the receiver acknowledged; both counts are kept for ``/_sim/stats``."""
        target = self.config.push_targets.get(provider, {}).get("status")
        if not self.config.push or not target:
            with self.lock:
                self.held_reports[provider].extend(reports)
            return
        delay = self.config.report_delay_ms / 1000

        def later() -> None:
            time.sleep(delay)
            acknowledged = 0
            try:
                acknowledged = push(target, reports)
            except Exception:
                logger.exception("push of %s %s reports to %s failed", len(reports), provider, target)
            with self.lock:
                self.reports_pushed[provider] += len(reports)
                self.reports_acknowledged[provider] += acknowledged

        self.pusher.submit(later)

    def take_held_reports(self, provider: str, limit: int | None = None) -> list[dict[str, Any]]:
        with self.lock:
            held = self.held_reports[provider]
            taken, self.held_reports[provider] = (held, []) if limit is None else (held[:limit], held[limit:])
            return taken


def post_json(url: str, payload: Any) -> bool:
    """How a provider pushes: one JSON POST, never repeated (providers push once). Whether the
    receiver acknowledged it with a 2xx; anything else is logged."""
    try:
        response = requests.post(url, json=payload, timeout=10)
    except requests.RequestException as exc:
        logger.warning("push to %s failed: %s", url.split("?")[0], type(exc).__name__)
        return False
    if response.status_code >= 300:
        logger.warning("push to %s answered %s", url.split("?")[0], response.status_code)
        return False
    return True


Handler = Callable[[SimRequest, SimState], SimResponse]
ROUTES: dict[tuple[str, str], Handler] = {}


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Register a simulator endpoint."""

    def register(handler: Handler) -> Handler:
        ROUTES[(method, path)] = handler
        return handler

    return register


@route("GET", "/_sim/health")
def _health(request: SimRequest, state: SimState) -> SimResponse:
    return SimResponse(body={"status": "ok"})


@route("GET", "/_sim/stats")
def _stats(request: SimRequest, state: SimState) -> SimResponse:
    return SimResponse(body=state.stats())


@route("POST", "/_sim/reset")
def _reset(request: SimRequest, state: SimState) -> SimResponse:
    state.reset()
    return SimResponse(body={"status": "ok"})


@route("POST", "/_sim/config")
def _config(request: SimRequest, state: SimState) -> SimResponse:
    changes = request.json()
    config = state.config
    for key, value in changes.items():
        if key == "down":
            config.down = set(value)
        elif key == "push_targets":
            config.push_targets.update(value)
        elif hasattr(config, key):
            setattr(config, key, type(getattr(config, key))(value))
        else:
            return SimResponse(400, {"error": f"unknown setting {key}"})
    return SimResponse(body={"status": "ok"})


@route("POST", "/_sim/uplink")
def _uplink(request: SimRequest, state: SimState) -> SimResponse:
    """Inject a reply SMS: ``{"provider": "tencent", "mobile": "131…", "text": "…"}``. It is
    pushed to the provider's uplink target (or held for its pull API)."""
    from providers.simulator import protocols

    payload = request.json()
    provider = payload.get("provider", "")
    make_uplink = protocols.UPLINK_BUILDERS.get(provider)
    if make_uplink is None:
        return SimResponse(400, {"error": f"no uplink for provider {provider!r}"})
    uplink = make_uplink(payload)
    target = state.config.push_targets.get(provider, {}).get("uplink")
    if state.config.push and target:
        post_json(target, uplink)
        return SimResponse(body={"status": "pushed"})
    with state.lock:
        state.held_uplinks[provider].append(uplink)
    return SimResponse(body={"status": "held"})


class _RequestHandler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = SimRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={key.lower(): value for key, value in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        handler = ROUTES.get((self.command, parts.path))
        if handler is None:
            response = SimResponse(status=404, body={"error": "no such simulator route"})
        else:
            try:
                response = handler(request, self.server.state)
            except Hang:
                time.sleep(self.server.state.config.hang_seconds)
                response = SimResponse(status=504, body={"error": "timed out"})
            except Exception:
                logger.exception("simulator handler failed for %s %s", self.command, parts.path)
                response = SimResponse(status=500, body={"error": "simulator error"})
        payload = response.encoded()
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout): nothing to answer

    do_GET = _dispatch
    do_POST = _dispatch

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s - %s", self.address_string(), format % args)


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host: str, port: int, state: SimState | None = None) -> None:
        from providers.simulator import protocols  # noqa: F401 - registers the provider routes

        super().__init__((host, port), _RequestHandler)
        self.state = state or SimState()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="provider-simulator", daemon=True)
        thread.start()
        return thread


def default_push_targets() -> dict[str, dict[str, str]]:
    """Where ``make run``'s simulator pushes: the local web process, with the callback token."""
    base = (
        os.environ.get("SIMULATOR_CALLBACK_BASE")
        or f"http://127.0.0.1:{os.environ.get('GM_WEB_PORT', '8000')}"
    )
    token = os.environ.get("SMS_CALLBACK_TOKEN", "")
    return {
        "tencent": {
            "status": f"{base}/sms/callback?token={token}",
            "uplink": f"{base}/providers/tencent/uplink?token={token}",
        },
        "gateway": {
            "status": f"{base}/providers/gateway/status?token={token}",
            "uplink": f"{base}/providers/gateway/uplink?token={token}",
        },
    }


def serve(host: str = "127.0.0.1", port: int | None = None) -> None:
    """Run the simulator in the foreground until interrupted."""
    port = port if port is not None else int(os.environ.get("SIMULATOR_PORT", "8100"))
    server = SimulatorServer(host, port)
    server.state.config.push_targets = default_push_targets()
    logger.info("provider simulator listening on http://%s:%s", host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="gm_server_notify provider simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default: $SIMULATOR_PORT or 8100")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    serve(args.host, args.port)
