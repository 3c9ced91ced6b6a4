"""The provider simulator as the benchmarks run it: ``providers.simulator`` unchanged but for two
things that capped a run of one-number requests (the one-task-per-recipient baseline) at about
20 recipients a second, whatever the service did.

**Nagle.** The simulator's handler writes its answer's headers and body in two ``send`` calls on
a socket without ``TCP_NODELAY``: the body waits for the ACK of the headers, which the client
delays (Linux: up to 40 ms). Every answer took about 45 ms although the simulator works for
2 ms (measured: the gateway send step of the baseline, 45.8 ms median wall time, 2.4 ms CPU).
The project's 34 requests per 100,000 recipients never noticed; one request per recipient did.
Here every accepted connection gets ``TCP_NODELAY`` (as gunicorn's and urllib3's sockets have).
A provider's own latency is the simulator's ``latency_ms`` setting (0 by default, in both runs).

**Report pushers.** The simulator pushes each send request's reports from a pool of four
threads, and each push first sleeps the report delay (200 ms) in its thread. That is harmless
for provider-sized requests (the project's 3,000 numbers are pushed by one thread in arrays of
100), but it caps requests of one number at 4 / 0.2 s = 20 pushes a second: the former
baseline's records were all answered after 58 s and final only after 105 s (19 recipients/s).
A real provider pushes from its own servers, so the benchmarks give the pool enough threads
(``--pushers``, default 256; the pool only grows as needed) that a push waits for its delay and
for the web process, never for a free pusher.

    .venv/bin/python -m bench.simulator --port 8100 [--pushers 256]
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from providers.simulator.server import SimState, SimulatorServer, default_push_targets

PUSHERS = 256


class BenchSimulatorServer(SimulatorServer):
    """The simulator's server, its accepted connections with ``TCP_NODELAY``."""

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


def serve(host: str, port: int, pushers: int = PUSHERS) -> None:
    """Run the simulator in the foreground (push targets as ``make run``'s: ``SIMULATOR_CALLBACK_BASE``)."""
    state = SimState(pusher=ThreadPoolExecutor(max_workers=pushers, thread_name_prefix="sim-push"))
    server = BenchSimulatorServer(host, port, state)
    server.state.config.push_targets = default_push_targets()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SIMULATOR_PORT", "8100")))
    parser.add_argument("--pushers", type=int, default=PUSHERS, help=f"report pusher threads ({PUSHERS})")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    serve(args.host, args.port, args.pushers)


if __name__ == "__main__":
    main()
