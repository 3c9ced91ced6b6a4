"""The provider simulator, started in-process on a free port for a test."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from providers.simulator.server import SimState, SimulatorServer


class RunningSimulator:
    def __init__(self, server: SimulatorServer) -> None:
        self.server = server
        self.url = server.url

    @property
    def state(self) -> SimState:
        return self.server.state

    def configure(self, **settings) -> None:
        response = requests.post(f"{self.url}/_sim/config", json=settings, timeout=5)
        response.raise_for_status()

    def stats(self) -> dict:
        return requests.get(f"{self.url}/_sim/stats", timeout=5).json()

    def inject_uplink(self, **uplink) -> dict:
        """``POST /_sim/uplink``: a reply pushed to the provider's uplink target or held for its
        pull API (``provider``, ``mobile``, ``text``; optional ``sign``, ``extend``, ``time``,
        ``repeat``, ``hold``)."""
        response = requests.post(f"{self.url}/_sim/uplink", json=uplink, timeout=30)
        response.raise_for_status()
        return response.json()


@contextmanager
def running_simulator(settings=None) -> Iterator[RunningSimulator]:
    """Start the simulator and, given pytest-django's ``settings``, point every provider at it."""
    server = SimulatorServer("127.0.0.1", 0)
    server.state.config.push = False  # hold reports for the pull APIs unless a test asks for pushes
    server.state.config.report_delay_ms = 0
    server.start_in_thread()
    if settings is not None:
        providers = copy.deepcopy(settings.SMS_PROVIDERS)
        providers["tencent"]["endpoint"] = server.url
        for name in ("gateway", "fw199", "sjroom"):
            providers[name]["base_url"] = server.url
        settings.SMS_PROVIDERS = providers
    try:
        yield RunningSimulator(server)
    finally:
        server.shutdown()
        server.server_close()
