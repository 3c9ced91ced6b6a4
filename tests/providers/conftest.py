"""Fixtures of the provider suites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.simulator import RunningSimulator, running_simulator


@pytest.fixture
def simulator(settings) -> Iterator[RunningSimulator]:
    """A simulator on a free loopback port, with every provider's base URL pointed at it and a
    short timeout so the hang rule (``…0408``) fails fast."""
    settings.PROVIDER_HTTP_TIMEOUT = 1.0
    with running_simulator(settings) as running:
        running.state.config.hang_seconds = 2.0
        yield running
