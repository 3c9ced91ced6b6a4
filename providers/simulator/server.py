"""The provider simulator's HTTP server.

A plain ``ThreadingHTTPServer`` from the standard library: the simulator must start with no
database, broker or Django, in tests, benchmarks and ``make run`` alike. Each provider protocol
(``providers/simulator/protocols/tencent.py`` …) registers its routes with ``core.route``.
The ``/_sim/*`` routes let tests and benchmarks read what each provider received and steer its behaviour.

Behaviour chosen by the number (last four digits), the same for every provider:

| suffix | effect |
| --- | --- |
| ``0004`` | accepted, then reported undelivered |
| ``0005`` | refused at submit (per-number failure) |
| ``0500`` | the whole request answers HTTP 500 |
| ``0408`` | the whole request hangs for ``hang_seconds`` (the client times out) |
| ``0409`` | Tencent: taken (and reported), then the answer hangs for ``hang_seconds`` |

``POST /_sim/config`` sets: ``latency_ms`` (added to every request), ``failure_rate`` (0..1 of
requests answered HTTP 500), ``fail_next`` (the next N send requests answer HTTP 500),
``down`` (list of providers answering HTTP 503 until removed; ``tencent.<Action>`` for one
Tencent action only, e.g. ``tencent.PullSmsSendStatus``), ``report_delay_ms``, ``push``
(whether reports are pushed or held for the pull APIs), ``push_targets`` (per provider:
``{"status": url, "uplink": url}``), ``hang_seconds``, ``templates`` (Tencent's registered
templates, id → text with ``{1}``: added or changed), ``fw199_templates`` (fw199's registered
templates, id → the names of their variables: added or changed) and ``gateway_push_batch`` (status
reports per gateway push: 1, seed 002's one object per request, unless started with
``--gateway-push-batch`` / ``SIM_GATEWAY_PUSH_BATCH``; N > 1 pushes JSON arrays of up to N) and
``gateway_refuse_repeated_task_id`` (default false: a repeated gateway ``taskId`` is sent again and
its numbers counted in ``duplicated_numbers``, as a gateway that does not check would; true: it is
refused, answered ``08``, before any number is counted) and ``answer_delay_ms`` (per provider,
e.g. ``{"gateway": 30000}``, added or changed, 0 for none, the default: its send requests are
taken, numbers counted and reports queued, then the answer is held that long, or until a lower
delay set meanwhile is over; ``/_sim/stats``
counts the answers held right now in ``answers_held``: a slow provider, for killing the worker
that waits on it). A setting it does not know, or a
value of the wrong kind, is refused (400) and nothing is changed.
``POST /_sim/reset`` returns to the settings it was started with, push targets kept.

``GET /_sim/usage``: the process's CPU seconds since start or reset and the status pushes made,
so a benchmark can report what one push cost the simulator.
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import signal
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from providers.simulator import protocols
from providers.simulator.core import (
    ROUTES,
    Hang,
    SimConfig,
    SimRequest,
    SimResponse,
    SimState,
    post_json,
    route,
)
from providers.simulator.protocols import fw199, gateway, sjroom, tencent

__all__ = ["SimState", "SimulatorServer", "default_push_targets", "main", "serve"]

logger = logging.getLogger("providers.simulator")


@route("GET", "/_sim/health")
def _health(request: SimRequest, state: SimState) -> SimResponse:
    return SimResponse(body={"status": "ok"})


@route("GET", "/_sim/stats")
def _stats(request: SimRequest, state: SimState) -> SimResponse:
    return SimResponse(body=state.stats())


@route("POST", "/_sim/reset")
def _reset(request: SimRequest, state: SimState) -> SimResponse:
    state.reset()
    state.release_answers()
    return SimResponse(body={"status": "ok"})


@route("GET", "/_sim/usage")
def _usage(request: SimRequest, state: SimState) -> SimResponse:
    return SimResponse(body=state.usage())


def _apply(config: SimConfig, key: str, value: Any) -> None:
    if key == "down":
        config.down = set(value)
    elif key == "push_targets":
        config.push_targets.update(value)
    elif key == "templates":
        config.templates.update({str(k): str(v) for k, v in value.items()})
    elif key == "fw199_templates":
        config.fw199_templates.update({str(k): [str(name) for name in v] for k, v in value.items()})
    elif key == "gateway_push_batch":
        config.gateway_push_batch = gateway.push_batch(value)
    elif key == "gateway_refuse_repeated_task_id":
        if not isinstance(value, bool):
            raise TypeError(f"must be true or false, not {value!r}")
        config.gateway_refuse_repeated_task_id = value
    elif key == "answer_delay_ms":
        config.answer_delay_ms.update(_answer_delays(value))
    elif hasattr(config, key):
        setattr(config, key, type(getattr(config, key))(value))
    else:
        raise KeyError(key)


# The providers whose send answers ``answer_delay_ms`` may hold.
SENDING_PROVIDERS = frozenset({fw199.PROVIDER, gateway.PROVIDER, sjroom.PROVIDER, tencent.PROVIDER})


def _answer_delays(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise TypeError(f"must be an object of provider -> milliseconds, not {value!r}")
    delays = {}
    for provider, milliseconds in value.items():
        if provider not in SENDING_PROVIDERS:
            raise ValueError(f"no provider {provider!r}")
        if isinstance(milliseconds, bool) or not isinstance(milliseconds, int | float) or milliseconds < 0:
            raise ValueError(f"{provider}: milliseconds must be a number >= 0, not {milliseconds!r}")
        delays[provider] = float(milliseconds)
    return delays


@route("POST", "/_sim/config")
def _config(request: SimRequest, state: SimState) -> SimResponse:
    changes = request.json()
    if not isinstance(changes, dict):
        return SimResponse(400, {"error": "a JSON object of settings"})
    # Checked on a copy, applied whole: a refused setting changes nothing.
    with state.lock:
        config = copy.deepcopy(state.config)
        for key, value in changes.items():
            try:
                _apply(config, key, value)
            except (TypeError, ValueError, AttributeError) as exc:
                return SimResponse(400, {"error": f"{key}: {exc}"})
            except KeyError:
                return SimResponse(400, {"error": f"unknown setting {key}"})
        state.config = config
    state.release_answers()
    return SimResponse(body={"status": "ok"})


@route("POST", "/_sim/uplink")
def _uplink(request: SimRequest, state: SimState) -> SimResponse:
    """Inject a reply SMS: ``{"provider": "tencent", "mobile": "131…", "text": "…"}``, with
    optional ``sign``, ``extend`` and ``time`` (Unix seconds; default now). It is pushed to the
    provider's uplink target, or held for its pull API (``/api/v1/mo``, ``PullSmsReplyStatus``)
    when pushing is off or no target is set. ``repeat`` (default 1) pushes it that many times (a
    provider or proxy repeating a push); ``hold: true`` also holds a pushed uplink for the pull
    API (an account that serves every uplink on both paths)."""
    payload = request.json()
    provider = payload.get("provider", "")
    make_uplink = protocols.UPLINK_BUILDERS.get(provider)
    if make_uplink is None:
        return SimResponse(400, {"error": f"no uplink for provider {provider!r}"})
    uplink = make_uplink(payload)
    target = state.config.push_targets.get(provider, {}).get("uplink")
    push = bool(state.config.push and target)
    acknowledged = 0
    if push:
        for _ in range(max(1, min(10, int(payload.get("repeat") or 1)))):
            acknowledged += post_json(target, uplink, state.connections)
    held = not push or bool(payload.get("hold"))
    if held:
        with state.lock:
            state.held_uplinks[provider].append(uplink)
    return SimResponse(
        body={"status": "pushed" if push else "held", "acknowledged": acknowledged, "held": held}
    )


class _RequestHandler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: the answer's headers and body are two writes; without it the body waited for
    # the client's delayed ACK of the headers (up to 40 ms per answer on Linux).
    disable_nagle_algorithm = True

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

        super().__init__((host, port), _RequestHandler)
        self.state = state or SimState()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def server_close(self) -> None:
        super().server_close()
        self.state.connections.close_all()
        # Held answers end with the server, not minutes later in a process that outlives it.
        self.state.config.answer_delay_ms = {}
        self.state.release_answers()

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


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(0)


def serve(host: str = "127.0.0.1", port: int | None = None, *, gateway_push_batch: int = 1) -> None:
    """Run the simulator in the foreground until interrupted (Ctrl-C) or told to stop (SIGTERM,
    as supervisord does): either way it closes its socket and exits 0."""
    port = port if port is not None else int(os.environ.get("SIMULATOR_PORT", "8100"))
    server = SimulatorServer(host, port)
    server.state.start_config.gateway_push_batch = gateway_push_batch
    server.state.config = copy.deepcopy(server.state.start_config)
    server.state.config.push_targets = default_push_targets()
    logger.info(
        "provider simulator listening on http://%s:%s (gateway reports: %s a push)",
        host,
        port,
        gateway_push_batch,
    )
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()


class UtcIsoFormatter(logging.Formatter):
    """The service's one clock in log lines: ISO 8601 in UTC with its zone, milliseconds included
    (docs/operations.md, "Logs"); the simulator runs without Django, so it has its own."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="gm_server_notify provider simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default: $SIMULATOR_PORT or 8100")
    parser.add_argument(
        "--gateway-push-batch",
        type=_push_batch_argument,
        default=os.environ.get("SIM_GATEWAY_PUSH_BATCH", "1"),
        help="status reports per gateway push (default: $SIM_GATEWAY_PUSH_BATCH or 1, seed 002's "
        "one object per request; N > 1: JSON arrays of up to N)",
    )
    args = parser.parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(UtcIsoFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), handlers=[handler])
    serve(args.host, args.port, gateway_push_batch=args.gateway_push_batch)


def _push_batch_argument(text: str) -> int:
    try:
        return gateway.push_batch(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
