"""What the simulator's server and its provider protocols share: the request and response types,
the simulated providers' state and behaviour, the number-suffix fault rules, the push helper and
the route table. The protocols register their routes here (``route``); ``server`` imports the
protocols and serves the table, so nothing here imports either of them."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import requests

logger = logging.getLogger("providers.simulator")

UNDELIVERED_SUFFIX = "0004"
REFUSED_SUFFIX = "0005"
SERVER_ERROR_SUFFIX = "0500"
HANG_SUFFIX = "0408"
# Taken (recorded, billed, reported), then the answer is held back for ``hang_seconds``: the client
# times out although the provider has the message (Tencent).
LATE_ANSWER_SUFFIX = "0409"

# Tencent's registered templates (id → text, ``{1}`` for the parameter), as its console holds them:
# the same texts as the service's SMS_STATION_TEMPLATES by default. ``POST /_sim/config`` with
# ``{"templates": {"1001": "…"}}`` registers or changes some (a longer text bills more parts).
DEFAULT_TENCENT_TEMPLATES = {
    "1001": "您的商城订单{1}已提交成功，我们将尽快为您安排配送。",
    "1002": "已为您代下订单{1}，请留意收货。",
    "1003": "您的验证码为{1}，5分钟内有效，请勿泄露给他人。",
}

# fw199's registered templates (id → the names of its variables), as its console holds them: the
# seed's own ``ST_72dd4e2c`` (``name``, ``number``) and the service's FW199_TEMPLATES defaults.
# ``POST /_sim/config`` with ``{"fw199_templates": {"ST_…": ["name"]}}`` registers or changes some.
DEFAULT_FW199_TEMPLATES = {
    "ST_72dd4e2c": ["name", "number"],
    "ST_00000000": ["order_id"],
    "ST_00000001": ["order_id"],
}


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
    templates: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TENCENT_TEMPLATES))
    fw199_templates: dict[str, list[str]] = field(
        default_factory=lambda: {key: list(names) for key, names in DEFAULT_FW199_TEMPLATES.items()}
    )


@dataclass
class SimState:
    """What every provider received, the reports it holds, and how it behaves."""

    config: SimConfig = field(default_factory=SimConfig)
    lock: threading.Lock = field(default_factory=threading.Lock)
    received: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    requests: Counter[str] = field(default_factory=Counter)
    # Parts each provider billed (Tencent: its Fee per number; the others one per number).
    parts_billed: Counter[str] = field(default_factory=Counter)
    refused_requests: Counter[str] = field(default_factory=Counter)
    # Reports held for the pull APIs, and uplinks injected, per provider.
    held_reports: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    held_uplinks: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    # Per-provider scratch space for protocol modules (sjroom batches, gateway task ids …).
    extra: dict[str, dict[str, Any]] = field(default_factory=lambda: defaultdict(dict))
    # Each push sleeps its report delay in a pusher thread: enough of them (started only as
    # needed) that requests of one number are not capped at 4 / delay pushes a second, as four were.
    pusher: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=256, thread_name_prefix="sim-push")
    )
    # Status reports pushed, and those the receiver acknowledged with a 2xx (providers push once).
    reports_pushed: Counter[str] = field(default_factory=Counter)
    reports_acknowledged: Counter[str] = field(default_factory=Counter)
    balances: dict[str, int] = field(default_factory=lambda: defaultdict(lambda: 100000))

    def record(self, provider: str, numbers: list[str], *, parts: int | None = None) -> None:
        """Count the numbers a provider took in one accepted request, and the ``parts`` it bills
        for them (one per number unless told)."""
        with self.lock:
            self.requests[provider] += 1
            self.received[provider].update(numbers)
            self.balances[provider] -= len(numbers)
            self.parts_billed[provider] += len(numbers) if parts is None else parts

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
                    "parts_billed": self.parts_billed[provider],
                }
            return stats

    def times_received(self, provider: str, number: str) -> int:
        with self.lock:
            return self.received[provider][number]

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.requests.clear()
            self.parts_billed.clear()
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
        of them the receiver acknowledged; both counts are kept for ``/_sim/stats``. A push is
        never repeated, but reports it did not get acknowledged stay held for the pull API (as
        Tencent's ``PullSmsSendStatus`` still serves what a lost push carried)."""
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
                if acknowledged < len(reports):
                    # Which ones were lost is not known per report: hold them all (pulls are idempotent).
                    self.held_reports[provider].extend(reports)

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
