"""Issue 19: a handful of half-open connections must not stop the service.

A client that opens a connection and sends half a header holds whatever serves it until a
timeout. With gunicorn's gthread workers published directly (2 workers x 4 threads), twelve such
clients held every thread and ``GET /healthz`` from anyone else timed out. ``make run`` now
publishes nginx, which buffers whole requests before gunicorn sees them: 64 slow clients cost
nginx 64 idle connections and no gunicorn thread.
"""

from __future__ import annotations

import socket
import time

import pytest
import requests

from tests.support.make_run import make_run, wait_for
from tests.support.waiting import wait_until

pytestmark = pytest.mark.make_run

SLOW_CLIENTS = 64


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with make_run(tmp_path_factory.mktemp("front")) as run:
        assert wait_for(f"{run.base}/healthz", timeout=90).status_code == 200, run.log()[-3000:]
        yield run


def _half_open(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: ")
    return sock


def test_healthz_answers_within_a_second_while_64_clients_hold_half_sent_headers(service):
    slow = [_half_open(service.port) for _ in range(SLOW_CLIENTS)]
    try:
        time.sleep(1)  # let every one of them be accepted and handed to whoever reads headers
        timings = []
        for _ in range(5):
            started = time.monotonic()
            try:
                response = requests.get(f"{service.base}/healthz", timeout=10)
            except requests.RequestException as exc:
                pytest.fail(f"/healthz did not answer under {SLOW_CLIENTS} half-open connections: {exc!r}")
            timings.append(time.monotonic() - started)
            assert response.status_code == 200
        print(f"/healthz under {SLOW_CLIENTS} half-open connections: {[round(t, 3) for t in timings]} s")
        assert max(timings) < 1.0, timings
    finally:
        for sock in slow:
            sock.close()


# --- what else the front does -------------------------------------------------------------------


def test_the_published_port_is_nginx_without_a_version(service):
    response = requests.get(f"{service.base}/healthz", timeout=10)
    assert response.headers["Server"] == "nginx"


def test_a_body_over_the_limit_is_refused_by_nginx_while_10000_mobiles_pass(service):
    too_large = requests.post(
        f"{service.base}/v1/message",
        data=b"x" * (4 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert too_large.status_code == 413
    assert "nginx" in too_large.text  # nginx answered: gunicorn never read 4 MB

    mobiles = [f"131{index:08d}" for index in range(10_000)]
    body = {"mobiles": mobiles, "sign_id": 1, "temp_id": 1, "params": {}}
    passed = requests.post(f"{service.base}/v1/message", json=body, timeout=30)
    # nginx passed the whole body on: the app answered (no credentials: its own error), not a 413.
    assert passed.json() == {"error": "ER:0001", "message": "auth not pass"}


def _request_line_of(size: int, path: str) -> str:
    """``GET <path>?x=aaa… HTTP/1.1``, ``size`` bytes long."""
    filler = size - len(f"GET {path}?x= HTTP/1.1")
    return f"{path}?x={'a' * filler}"


def test_an_over_long_request_line_is_refused_by_nginx_in_the_familys_envelope(service):
    """Fuzzing found ``GET v1/message`` with a 4,380-byte request line answered by gunicorn's HTML
    414 (its limit_request_line is 4,094). nginx refuses it first, as JSON in the family's body."""
    tenant = requests.get(f"{service.base}{_request_line_of(4380, '/v1/message')}", timeout=10)
    assert tenant.status_code == 414 and tenant.headers["Content-Type"] == "application/json"
    assert tenant.json()["error"] == "ER:0004" and "request line too long" in tenant.json()["message"]
    station = requests.get(f"{service.base}{_request_line_of(4380, '/sms/send_record/get')}", timeout=10)
    assert station.status_code == 414
    assert station.json() == {
        "code": 1002,
        "msg": "request line too long: the method, path and query may be at most 3998 bytes",
        "data": None,
    }
    # The longest line nginx takes reaches the app (no credentials: its own answer, not a 414).
    longest = requests.get(f"{service.base}{_request_line_of(3998, '/v1/message')}", timeout=10)
    assert longest.status_code != 414 and "error" in longest.json(), longest.text[:300]


def test_request_ids_pass_through_and_are_logged_with_no_query_string(service):
    given = requests.get(f"{service.base}/healthz", headers={"X-Request-ID": "front-abc-123"}, timeout=10)
    assert given.headers["X-Request-ID"] == "front-abc-123"
    made = requests.get(f"{service.base}/healthz?token=query-secret-4711", timeout=10)
    made_id = made.headers["X-Request-ID"]
    assert len(made_id) == 32  # nginx's $request_id, handed to the app as X-Request-ID

    def logged() -> bool:
        log = service.log()
        return "request_id=front-abc-123" in log and f"request_id={made_id}" in log

    wait_until(logged, timeout=10, message="nginx's access log lines on stdout")
    assert "query-secret-4711" not in service.log()


def test_the_log_never_shows_the_generated_service_token(service):
    """Issue 19, finding 3: make run printed its generated token; it now says where it is kept."""
    token_file = service.var_dir / "service_token"
    assert str(token_file) in service.log()
    assert token_file.read_text().strip() not in service.log()
    assert token_file.stat().st_mode & 0o077 == 0
