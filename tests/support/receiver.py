"""A tenant's webhook receiver for tests: a real HTTP server on loopback (the standard library's
``ThreadingHTTPServer``) that keeps every POST and answers as a test tells it: a list of statuses
to answer in turn, then ``status``; or hang (hold the request unanswered) for ``hang_seconds``.
With ``keep_alive`` it speaks HTTP/1.1 and keeps connections open (as gunicorn does) until
``close_connections``; each post records the client's address, so a test can count connections."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Post:
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int] = ("", 0)

    def close_connections(self) -> None:
        """Close every connection a client holds open (a server dropping idle keep-alives)."""
        with self.lock:
            connections, self.connections = self.connections, []
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its client

    @property
    def events(self) -> list[dict[str, Any]]:
        return json.loads(self.body)


@dataclass
class Behaviour:
    statuses: list[int] = field(default_factory=list)  # answered in turn, then ``status``
    status: int = 200
    hang_seconds: float = 0.0


class Receiver:
    def __init__(self, *, keep_alive: bool = False) -> None:
        self.behaviour = Behaviour()
        self.posts: list[Post] = []
        self.hanging = 0  # requests held unanswered right now
        self.lock = threading.Lock()
        self.released = threading.Event()
        self.connections: list[socket.socket] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"
            # Headers and body are two writes: without it each kept-alive answer waits ~40 ms.
            disable_nagle_algorithm = keep_alive

            def setup(self) -> None:
                super().setup()
                with receiver.lock:
                    receiver.connections.append(self.connection)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    receiver.posts.append(Post(headers, body, self.client_address[:2]))
                    behaviour = receiver.behaviour
                    status = behaviour.statuses.pop(0) if behaviour.statuses else behaviour.status
                    hang = behaviour.hang_seconds
                if hang:
                    with receiver.lock:
                        receiver.hanging += 1
                    receiver.released.wait(hang)
                    with receiver.lock:
                        receiver.hanging -= 1
                try:
                    self.send_response(status)
                    if 300 <= status < 400:  # a redirect names where to (followed, it is a second POST)
                        self.send_header("Location", receiver.url + "/moved")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def answer(
        self, *, statuses: list[int] | None = None, status: int = 200, hang_seconds: float = 0
    ) -> None:
        with self.lock:
            self.behaviour = Behaviour(list(statuses or []), status, hang_seconds)

    def close_connections(self) -> None:
        """Close every connection a client holds open (a server dropping idle keep-alives)."""
        with self.lock:
            connections, self.connections = self.connections, []
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its client

    @property
    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [event for post in self.posts for event in post.events]


@contextmanager
def running_receiver(*, keep_alive: bool = False) -> Iterator[Receiver]:
    receiver = Receiver(keep_alive=keep_alive)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        receiver.server.shutdown()
        receiver.server.server_close()
