"""A tenant's webhook receiver on loopback, to try the delivery webhooks of docs/api-platform.md
against ``make run`` (started with ``WEBHOOK_ALLOW_PRIVATE_NETWORKS=true``: loopback is a private
address, refused otherwise).

    WEBHOOK_SECRET=<the secret v1/callback answered> python3 scripts/webhook_receiver.py --port 9000

- ``POST /status/<code>`` answers ``<code>`` and keeps nothing: a receiver that fails.
- Any other ``POST`` checks ``X-GM-Signature`` with ``WEBHOOK_SECRET`` (401 when it does not
  verify), keeps the events of the body and answers 200.
- ``GET /events`` answers every event kept so far, oldest first, as one JSON array.

Standard library only, no Django: it is what a tenant runs, not part of the service.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EVENTS: list[dict[str, Any]] = []
LOCK = threading.Lock()


def verify(secret: str, body: bytes, header: str, tolerance: int = 300) -> bool:
    """True when X-GM-Signature ``header`` signs the raw request ``body`` with ``secret`` (the
    function docs/api-platform.md shows)."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        failing = re.fullmatch(r"/status/(\d{3})", self.path)
        if failing:
            self._answer(int(failing.group(1)), {"kept": 0})
            return
        if not verify(os.environ.get("WEBHOOK_SECRET", ""), body, self.headers.get("X-GM-Signature", "")):
            self._answer(401, {"error": "bad signature"})
            return
        events = json.loads(body)
        with LOCK:
            EVENTS.extend(events)
        self._answer(200, {"kept": len(events)})

    def do_GET(self) -> None:
        if self.path != "/events":
            self._answer(404, {"error": "GET /events"})
            return
        with LOCK:
            self._answer(200, list(EVENTS))

    def _answer(self, status: int, payload: Any) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the standard library's name
        """Quiet: it runs in the background of a shell whose output the docs show."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    if not os.environ.get("WEBHOOK_SECRET"):
        parser.error("set WEBHOOK_SECRET to the secret the first PUT v1/callback answered")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
