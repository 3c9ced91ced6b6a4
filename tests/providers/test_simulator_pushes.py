"""How the simulator pushes the gateway's status reports (seed 002): one JSON object per request
unless ``gateway_push_batch`` says otherwise, over kept-alive connections, with ``times`` in
Beijing time whatever the zone of the machine it runs on."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from bench.harness import free_port, wait_for_http
from providers.gateway import GatewayAdapter
from providers.simulator.protocols import gateway as simulated
from tests.support.receiver import Receiver, running_receiver
from tests.support.simulator import RunningSimulator
from tests.support.waiting import scaled, wait_until

REPO = Path(__file__).resolve().parents[2]
BEIJING = dt.timezone(dt.timedelta(hours=8))
SEED_PUSH_KEYS = {"sendId", "mobile", "times", "status"}
CREDENTIALS = {"account": simulated.ACCOUNT, "pwd": hashlib.md5(simulated.PASSWORD.encode()).hexdigest()}


def _send(sim_url: str, mobiles: list[str], task_id: str = "") -> str:
    form = {**CREDENTIALS, "mobiles": ",".join(mobiles), "content": "【去采购】您的订单已发货"}
    if task_id:
        form["taskId"] = task_id
    answer = requests.post(f"{sim_url}/api/v1/send", data=form, timeout=10).json()
    assert answer["code"] == "00", answer
    return answer["data"]["taskId"]


def _pull(sim_url: str, path: str) -> list[dict]:
    answer = requests.post(f"{sim_url}{path}", data=CREDENTIALS, timeout=10).json()
    assert answer["code"] == "00", answer
    return answer["data"]


def _mobiles(count: int, start: int = 0) -> list[str]:
    return [f"131{index:04d}1234" for index in range(start, start + count)]


def _pushing_to(simulator: RunningSimulator, receiver: Receiver, **settings) -> None:
    simulator.configure(
        push=True, report_delay_ms=0, push_targets={"gateway": {"status": receiver.url}}, **settings
    )


def _bodies(receiver: Receiver) -> list:
    with receiver.lock:
        return [json.loads(post.body) for post in receiver.posts]


def _usage(sim_url: str) -> dict:
    return requests.get(f"{sim_url}/_sim/usage", timeout=10).json()


# --- the push shape ----------------------------------------------------------------------------


def test_each_report_is_pushed_alone_as_seed_002_shows_on_one_kept_alive_connection(simulator):
    with running_receiver(keep_alive=True) as receiver:
        _pushing_to(simulator, receiver)
        task_id = _send(simulator.url, [*_mobiles(29), "13100000004"])
        wait_until(lambda: len(receiver.posts) == 30, message="30 pushes")
        bodies = _bodies(receiver)
    assert all(isinstance(body, dict) and set(body) == SEED_PUSH_KEYS for body in bodies)
    assert {body["sendId"] for body in bodies} == {task_id}
    assert [body["mobile"] for body in bodies] == [*_mobiles(29), "13100000004"]
    assert bodies[-1]["status"] == "UNDELIV"
    # One send's reports go out one after another from one pusher thread: one connection.
    assert len({post.peer for post in receiver.posts}) == 1
    stats = simulator.stats()["gateway"]
    assert (stats["reports_pushed"], stats["reports_acknowledged"]) == (30, 30)
    usage = _usage(simulator.url)
    assert usage["gateway_push_batch"] == 1
    assert usage["status_pushes"] == usage["reports_pushed"] == 30
    assert usage["by_provider"] == {"gateway": {"status_pushes": 30, "reports_pushed": 30}}
    assert usage["cpu_seconds"] > 0 and usage["cpu_ms_per_push"] > 0
    # And the service reads each pushed object as one report.
    [report] = GatewayAdapter().parse_status_callback(receiver.posts[0].body, "application/json")
    assert report.provider_message_id == f"{task_id}:{_mobiles(1)[0]}"


def test_gateway_push_batch_pushes_json_arrays_of_up_to_that_many(simulator):
    with running_receiver(keep_alive=True) as receiver:
        _pushing_to(simulator, receiver, gateway_push_batch=100)
        _send(simulator.url, _mobiles(250))
        wait_until(lambda: simulator.stats()["gateway"]["reports_pushed"] == 250, message="250 reports")
        bodies = _bodies(receiver)
    assert [len(body) for body in bodies] == [100, 100, 50]
    assert all(isinstance(body, list) and set(body[0]) == SEED_PUSH_KEYS for body in bodies)
    usage = _usage(simulator.url)
    assert (usage["gateway_push_batch"], usage["status_pushes"], usage["reports_pushed"]) == (100, 3, 250)
    assert len(GatewayAdapter().parse_status_callback(receiver.posts[0].body)) == 100


@pytest.mark.parametrize("value", [0, 3001, -1, 1.5, "ten", True, None, [100]])
def test_a_bad_push_batch_is_refused_and_changes_nothing(simulator, value):
    simulator.configure(gateway_push_batch=100)
    answer = requests.post(
        f"{simulator.url}/_sim/config",
        json={"report_delay_ms": 5000, "gateway_push_batch": value},
        timeout=5,
    )
    assert answer.status_code == 400
    assert "gateway_push_batch" in answer.json()["error"]
    assert simulator.state.config.gateway_push_batch == 100
    assert simulator.state.config.report_delay_ms == 0  # the whole request was refused


def test_an_unknown_setting_is_still_refused(simulator):
    answer = requests.post(f"{simulator.url}/_sim/config", json={"push_batch": 100}, timeout=5)
    assert (answer.status_code, answer.json()) == (400, {"error": "unknown setting push_batch"})


# --- connections -------------------------------------------------------------------------------


def test_a_kept_alive_connection_the_receiver_dropped_is_replaced_and_no_report_is_lost(simulator):
    with running_receiver(keep_alive=True) as receiver:
        _pushing_to(simulator, receiver)
        _send(simulator.url, _mobiles(5))
        wait_until(lambda: len(receiver.posts) == 5, message="the first five pushes")
        receiver.close_connections()  # as gunicorn closes a keep-alive connection left idle
        _send(simulator.url, _mobiles(5, start=5))
        wait_until(lambda: simulator.stats()["gateway"]["reports_pushed"] == 10, message="ten pushes")
        first, second = receiver.posts[:5], receiver.posts[5:]
    assert len(second) == 5
    assert {post.peer for post in first}.isdisjoint({post.peer for post in second})
    assert simulator.stats()["gateway"]["reports_acknowledged"] == 10
    assert simulator.state.take_held_reports("gateway") == []


def test_a_receiver_that_closes_every_connection_still_gets_every_push(simulator):
    with running_receiver() as receiver:  # HTTP/1.0: the connection closes after each answer
        _pushing_to(simulator, receiver)
        _send(simulator.url, _mobiles(5))
        wait_until(lambda: simulator.stats()["gateway"]["reports_pushed"] == 5, message="five pushes")
        assert len({post.peer for post in receiver.posts}) == 5
    assert simulator.stats()["gateway"]["reports_acknowledged"] == 5


def test_only_the_report_whose_push_failed_is_held_for_the_pull(simulator):
    with running_receiver(keep_alive=True) as receiver:
        _pushing_to(simulator, receiver)
        receiver.answer(statuses=[200, 500, 200])
        task_id = _send(simulator.url, ["13100001111", "13100002222", "13100003333"])
        wait_until(lambda: simulator.stats()["gateway"]["reports_pushed"] == 3, message="three pushes")
    assert simulator.stats()["gateway"]["reports_acknowledged"] == 2
    [held] = _pull(simulator.url, "/api/v1/report")  # numbers masked, as seed 002 shows them
    assert (held["sendId"], held["mobile"]) == (task_id, "131****2222")


# --- the simulator as a process: its start-up option, and its clock -----------------------------


@contextmanager
def _simulator_process(*args: str, **env: str) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "providers.simulator", "--port", str(port), *args],
        cwd=REPO,
        env={**os.environ, "LOG_LEVEL": "WARNING", **env},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/_sim/health", timeout=scaled(20))
        yield url
    finally:
        process.terminate()
        process.wait(timeout=scaled(10))


def test_the_push_batch_is_set_at_start_and_kept_by_reset():
    with _simulator_process("--gateway-push-batch", "100") as url:
        assert _usage(url)["gateway_push_batch"] == 100
        requests.post(f"{url}/_sim/config", json={"gateway_push_batch": 7}, timeout=5).raise_for_status()
        requests.post(f"{url}/_sim/reset", timeout=5).raise_for_status()
        assert _usage(url)["gateway_push_batch"] == 100
    with _simulator_process(SIM_GATEWAY_PUSH_BATCH="50") as url:
        assert _usage(url)["gateway_push_batch"] == 50
    with _simulator_process() as url:
        assert _usage(url)["gateway_push_batch"] == 1


def test_a_bad_push_batch_at_start_stops_the_simulator():
    started = subprocess.run(
        [
            sys.executable,
            "-m",
            "providers.simulator",
            "--port",
            str(free_port()),
            "--gateway-push-batch",
            "0",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=scaled(20),
    )
    assert started.returncode == 2
    assert "must be an integer from 1 to 3000" in started.stderr


def _beijing(times: str) -> dt.datetime:
    return dt.datetime.strptime(times, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)


def _utc_offset_under(zone: str) -> int:
    """The UTC offset, in seconds, that a Python process started with ``TZ=zone`` sees."""
    probe = "import time; print(time.localtime().tm_gmtoff)"
    return int(subprocess.check_output([sys.executable, "-c", probe], env={**os.environ, "TZ": zone}))


@pytest.mark.parametrize(("zone", "offset"), [("UTC", 0), ("Asia/Shanghai", 8 * 3600)])
def test_times_are_beijing_time_whatever_the_zone_the_simulator_runs_in(zone, offset):
    # The zone really is in force in the child: otherwise this test would prove nothing.
    assert _utc_offset_under(zone) == offset
    with running_receiver(keep_alive=True) as receiver, _simulator_process(TZ=zone) as url:
        targets = {"gateway": {"status": receiver.url, "uplink": receiver.url}}
        config = {"push": True, "report_delay_ms": 0, "push_targets": targets}
        requests.post(f"{url}/_sim/config", json=config, timeout=5).raise_for_status()
        before = dt.datetime.now(dt.UTC).replace(microsecond=0)
        task_id = _send(url, _mobiles(2))
        uplink = {"provider": "gateway", "mobile": "13100001234", "text": "TD"}
        assert requests.post(f"{url}/_sim/uplink", json=uplink, timeout=5).json()["acknowledged"] == 1
        wait_until(lambda: len(receiver.posts) == 3, message="two reports and an uplink pushed")
        pushed = _bodies(receiver)
        # Pulled: the same, with pushing off.
        requests.post(f"{url}/_sim/config", json={"push": False}, timeout=5).raise_for_status()
        _send(url, _mobiles(1, start=2))
        requests.post(f"{url}/_sim/uplink", json=uplink, timeout=5).raise_for_status()
        pulled = _pull(url, "/api/v1/report") + _pull(url, "/api/v1/mo")
        after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert len(pulled) == 2
    for item in [*pushed, *pulled]:
        assert before <= _beijing(item["times"]) <= after, (zone, item)
    # The service reads them as the instants they were made.
    statuses = [item for item in pushed if "sendId" in item]  # the uplink may come first
    reports = GatewayAdapter().parse_status_callback(json.dumps(statuses).encode())
    assert {report.provider_message_id for report in reports} == {f"{task_id}:{m}" for m in _mobiles(2)}
    assert all(before <= report.occurred_at <= after for report in reports)
