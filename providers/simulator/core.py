"""What the simulator's server and its provider protocols share: the request and response types,
the simulated providers' state and behaviour, the number-suffix fault rules, the push helper and
the route table. The protocols register their routes here (``route``); ``server`` imports the
protocols and serves the table, so nothing here imports either of them."""

from __future__ import annotations

import copy
import http.client
import json
import logging
import random
import select
import threading
import time
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

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
    # Status reports per gateway push: 1 is seed 002 (one object per request); more is a JSON
    # array of up to that many, a shortcut the service also takes (protocols/gateway.py).
    gateway_push_batch: int = 1
    # Seed 002 does not say the gateway refuses a repeated taskId, so by default the simulator
    # sends it again (its numbers count in ``duplicated_numbers``); True answers ``08`` instead.
    gateway_refuse_repeated_task_id: bool = False
    # Per provider (``{"gateway": 30000}``): a send request is taken (numbers counted, reports
    # queued), then its answer is held this long: a slow provider, during which a test can kill
    # the worker that waits for the answer. Off (0) for every provider unless set.
    answer_delay_ms: dict[str, float] = field(default_factory=dict)


# A push carries a payload and the reports in it (lost together when the push is not acknowledged).
Payloads = Iterable[tuple[Any, list[dict[str, Any]]]]
Report = dict[str, Any]


@dataclass
class SimState:
    """What every provider received, the reports it holds, and how it behaves."""

    config: SimConfig = field(default_factory=SimConfig)
    # What ``reset`` returns to (push targets aside): the settings the simulator was started with.
    start_config: SimConfig = field(default_factory=SimConfig)
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
    # Status reports pushed, and those the receiver acknowledged with a 2xx (providers push once);
    # the HTTP requests that carried them; this process's CPU seconds when counting began.
    reports_pushed: Counter[str] = field(default_factory=Counter)
    reports_acknowledged: Counter[str] = field(default_factory=Counter)
    status_pushes: Counter[str] = field(default_factory=Counter)
    connections: KeptConnections = field(default_factory=lambda: KeptConnections())
    cpu_at_reset: float = field(default_factory=time.process_time)
    balances: dict[str, int] = field(default_factory=lambda: defaultdict(lambda: 100000))
    # Send answers being held right now (``answer_delay_ms``), per provider, and the condition a
    # change of the delays is announced on: a held answer is released once its (new) delay is over.
    answers_held: Counter[str] = field(default_factory=Counter)
    delays_changed: threading.Condition = field(default_factory=threading.Condition)

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
                    "answers_held": self.answers_held[provider],
                }
            return stats

    def usage(self) -> dict[str, Any]:
        """What the simulator cost since it started or was last reset: its process's CPU seconds
        (user + system, every thread: answering sends and serving pulls included) and the status
        pushes it made, so a benchmark can say what one push cost the stand-in provider."""
        with self.lock:
            pushes = sum(self.status_pushes.values())
            cpu = time.process_time() - self.cpu_at_reset
            return {
                "cpu_seconds": round(cpu, 3),
                "status_pushes": pushes,
                "reports_pushed": sum(self.reports_pushed.values()),
                "cpu_ms_per_push": round(cpu * 1000 / pushes, 3) if pushes else None,
                "gateway_push_batch": self.config.gateway_push_batch,
                "by_provider": {
                    provider: {
                        "status_pushes": self.status_pushes[provider],
                        "reports_pushed": self.reports_pushed[provider],
                    }
                    for provider in self.status_pushes
                },
            }

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
            self.status_pushes.clear()
            self.cpu_at_reset = time.process_time()
            self.extra.clear()
            self.balances.clear()
            push_targets = self.config.push_targets
            self.config = copy.deepcopy(self.start_config)
            self.config.push_targets = push_targets

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

    def hold_answer(self, provider: str) -> None:
        """Hold the answer to a send request ``provider`` has taken for its ``answer_delay_ms``
        (nothing when it has none), counted in ``answers_held`` meanwhile. Lowering the delay
        (``release_answers`` after a config change) shortens the holds under way."""
        started = time.monotonic()

        def remaining() -> float:
            return started + self.config.answer_delay_ms.get(provider, 0.0) / 1000 - time.monotonic()

        if remaining() <= 0:
            return
        with self.lock:
            self.answers_held[provider] += 1
        try:
            with self.delays_changed:
                while (left := remaining()) > 0:
                    self.delays_changed.wait(left)
        finally:
            with self.lock:
                self.answers_held[provider] -= 1

    def release_answers(self) -> None:
        """Tell the held answers that ``answer_delay_ms`` changed."""
        with self.delays_changed:
            self.delays_changed.notify_all()

    # --- reports: pushed after a delay, or held for pulling ---

    def deliver_reports(
        self, provider: str, reports: list[Report], payloads: Callable[[list[Report]], Payloads]
    ) -> None:
        """Push ``reports`` to the provider's status target after the report delay, or hold
        them for the pull API when pushing is off or no target is set. ``payloads`` splits them
        into the provider's pushes (each a JSON body and the reports it carries), sent one after
        the other on this pusher thread's kept-alive connection. A push is never repeated, but
        the reports of one the receiver did not acknowledge stay held for the pull API (as
        Tencent's ``PullSmsSendStatus`` still serves what a lost push carried). The counts
        (``/_sim/stats``, ``/_sim/usage``) move push by push."""
        target = self.config.push_targets.get(provider, {}).get("status")
        if not self.config.push or not target:
            with self.lock:
                self.held_reports[provider].extend(reports)
            return
        delay = self.config.report_delay_ms / 1000

        def later() -> None:
            time.sleep(delay)
            try:
                pushes = list(payloads(reports))
            except Exception:
                logger.exception("%s reports of %s could not be written: held", len(reports), provider)
                with self.lock:
                    self.held_reports[provider].extend(reports)
                return
            for payload, carried in pushes:
                acknowledged = post_json(target, payload, self.connections)
                with self.lock:
                    self.status_pushes[provider] += 1
                    self.reports_pushed[provider] += len(carried)
                    if acknowledged:
                        self.reports_acknowledged[provider] += len(carried)
                    else:
                        self.held_reports[provider].extend(carried)

        self.pusher.submit(later)

    def take_held_reports(self, provider: str, limit: int | None = None) -> list[dict[str, Any]]:
        with self.lock:
            held = self.held_reports[provider]
            taken, self.held_reports[provider] = (held, []) if limit is None else (held[:limit], held[limit:])
            return taken


def chunked(
    reports: list[dict[str, Any]], size: int, render: Callable[[dict[str, Any]], Any], *, single: bool = False
) -> Payloads:
    """``reports`` as pushes of up to ``size``, each a JSON array of ``render``-ed items, or with
    ``single`` and ``size`` 1 the item alone (a provider that pushes one object per request)."""
    for start in range(0, len(reports), size):
        carried = reports[start : start + size]
        items = [render(report) for report in carried]
        yield (items[0] if single and size == 1 else items), carried


_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class KeptConnections:
    """Each thread's connection to each receiver, kept open between its pushes (HTTP/1.1
    keep-alive): a new TCP connection and a ``requests`` call per push cost the simulator more CPU
    than the push itself. All of them are known, so that a stopping simulator closes them: a
    receiver's thread is not left holding a connection until the process exits."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: weakref.WeakSet[http.client.HTTPConnection] = weakref.WeakSet()
        self._lock = threading.Lock()

    def get(self, scheme: str, netloc: str) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection to ``netloc`` and whether it is open from an earlier push; one
        the receiver closed while it was idle (readable: its end of file is waiting) is closed
        here and opens again with the next request."""
        connections: dict[tuple[str, str], http.client.HTTPConnection] | None
        connections = getattr(self._local, "connections", None)
        if connections is None:
            connections = self._local.connections = {}
        connection = connections.get((scheme, netloc))
        if connection is None:
            kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            connection = connections[(scheme, netloc)] = kind(netloc, timeout=10)
            with self._lock:
                self._all.add(connection)
        elif connection.sock is not None and select.select([connection.sock], [], [], 0)[0]:
            connection.close()
        return connection, connection.sock is not None

    def close_all(self) -> None:
        with self._lock:
            connections = list(self._all)
        for connection in connections:
            connection.close()


_SHARED = KeptConnections()


def post_json(url: str, payload: Any, connections: KeptConnections | None = None) -> bool:
    """How a provider pushes: one JSON POST, on this thread's kept-alive connection to the
    receiver, never repeated once the receiver may have seen it (providers push once). Whether
    the receiver acknowledged it with a 2xx; anything else is logged. The one exception, as HTTP
    clients do: a kept-alive connection the receiver closed just as the push went out (no answer
    at all) is dropped and the push sent on a new one."""
    kept = connections or _SHARED
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    for _attempt in range(2):
        connection, reused = kept.get(parts.scheme, parts.netloc)
        try:
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            response.read()
        except _STALE as exc:
            connection.close()
            if reused:
                continue
            return _failed(url, type(exc).__name__)
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            return _failed(url, type(exc).__name__)
        if response.status >= 300:
            return _failed(url, f"answered {response.status}")
        return True
    return _failed(url, "closed the connection twice")


def _failed(url: str, why: str) -> bool:
    logger.warning("push to %s failed: %s", url.split("?")[0], why)
    return False


Handler = Callable[[SimRequest, SimState], SimResponse]
ROUTES: dict[tuple[str, str], Handler] = {}


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Register a simulator endpoint."""

    def register(handler: Handler) -> Handler:
        ROUTES[(method, path)] = handler
        return handler

    return register
