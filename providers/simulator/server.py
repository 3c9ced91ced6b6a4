"""The provider simulator's HTTP server.

A plain ``ThreadingHTTPServer`` from the standard library: the simulator must start with no
database, broker or Django, in tests, benchmarks and ``make run`` alike. Provider protocols
register their routes in ``ROUTES``; the ``/_sim/*`` routes let tests and benchmarks read what
each provider received.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger("providers.simulator")


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
        return {
            key: values[-1]
            for key, values in parse_qs(self.body.decode("utf-8"), keep_blank_values=True).items()
        }


@dataclass
class SimResponse:
    status: int = 200
    body: Any = None
    content_type: str = "application/json; charset=utf-8"

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


@dataclass
class SimState:
    """What every provider received; numbers counted per provider to prove exactly-once."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    received: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    requests: Counter[str] = field(default_factory=Counter)

    def record(self, provider: str, numbers: list[str]) -> None:
        with self.lock:
            self.requests[provider] += 1
            self.received[provider].update(numbers)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                provider: {
                    "requests": self.requests[provider],
                    "numbers": sum(counter.values()),
                    "distinct_numbers": len(counter),
                    "duplicated_numbers": sum(1 for count in counter.values() if count > 1),
                }
                for provider, counter in self.received.items()
            }

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.requests.clear()


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
            except Exception:
                logger.exception("simulator handler failed for %s %s", self.command, parts.path)
                response = SimResponse(status=500, body={"error": "simulator error"})
        payload = response.encoded()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _dispatch
    do_POST = _dispatch

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s - %s", self.address_string(), format % args)


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int) -> None:
        super().__init__((host, port), _RequestHandler)
        self.state = SimState()


def serve(host: str = "127.0.0.1", port: int | None = None) -> None:
    """Run the simulator in the foreground until interrupted."""
    port = port if port is not None else int(os.environ.get("SIMULATOR_PORT", "8100"))
    server = SimulatorServer(host, port)
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
