"""The embedded default answers no 5xx under concurrent requests (issue 30, section 4).

``make run`` without ``DATABASE_URL`` keeps everything in one SQLite file that every process
shares: write-ahead log, a busy timeout and immediate write transactions
(gm_server_notify/settings/database.py), and the login slots as lock files
(gm_server_notify/lockout.py). Before, 60 parallel wrong logins against ``/v1/signature`` got 500
("database table is locked", from axes' attempt rows) and checked 56 passwords instead of 20.

The web here is make run's (gunicorn, 2 processes of 4 threads, production's password hasher) on a
fresh embedded default of its own, whatever database the suite runs on: the subject is the
embedded default, so ``make test`` and ``make test-fast`` run the same test.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.waiting import scaled
from tests.support.web import Web

TOKEN = "embedded-service-token"
TENANT, VICTIM, PASSWORD = "embedded-tenant", "embedded-victim", "embedded-password-1"
WRONG_LOGINS, STATION_SENDS, RECHARGES, TENANT_WRITES, TENANT_READS = 60, 30, 15, 10, 10
LIMIT = 20  # AUTH_FAILURE_LIMIT, its default


@pytest.fixture
def embedded(tmp_path) -> Iterator[Web]:
    web = Web(tmp_path, SMS_SERVICE_TOKENS=TOKEN, AUTH_FAILURE_LIMIT=str(LIMIT))
    try:
        web.manage("migrate", "--noinput", "-v0")
        web.manage("create_api_user", TENANT, API_USER_PASSWORD=PASSWORD)
        web.manage("create_api_user", VICTIM, API_USER_PASSWORD=PASSWORD)
        web.start()
        yield web
    finally:
        web.stop()


def _recharge(url: str, nums: int) -> requests.Response:
    body = {
        "combo_id": 4,
        "station_id": "T7442",
        "recharge_nums": nums,
        "recharge_money": f"{nums / 10:.2f}",
        "operator_name": "e2e",
    }
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return requests.post(f"{url}/sms/recharge_record/create", json=body, headers=headers, timeout=scaled(60))


def _calls(url: str) -> list[tuple[str, Callable[[], requests.Response]]]:
    station = {"Authorization": f"Bearer {TOKEN}"}
    timeout = scaled(60)

    def wrong_login(n: int) -> Callable[[], requests.Response]:
        auth = (VICTIM, f"not-the-password-{n}")
        return lambda: requests.get(f"{url}/v1/signature", auth=auth, timeout=timeout)

    def station_send(n: int) -> Callable[[], requests.Response]:
        body = {
            "station_id": "T7442",
            "receive_phone": 13100000000 + n,
            "sms_content": {"verify_code": "112095", "sms_signature": "去采购"},
            "business_type": 2,
        }
        return lambda: requests.post(f"{url}/sms/send/add", json=body, headers=station, timeout=timeout)

    def tenant_write(n: int) -> Callable[[], requests.Response]:
        body = {"signature": f"并发签名{n}", "source": "营业执照"}
        return lambda: requests.post(
            f"{url}/v1/signature", json=body, auth=(TENANT, PASSWORD), timeout=timeout
        )

    def tenant_read() -> requests.Response:
        return requests.get(f"{url}/v1/signature", auth=(TENANT, PASSWORD), timeout=timeout)

    return [
        *(("wrong login", wrong_login(n)) for n in range(WRONG_LOGINS)),
        *(("station send", station_send(n)) for n in range(STATION_SENDS)),
        *(("recharge", lambda: _recharge(url, 1)) for _ in range(RECHARGES)),
        *(("tenant write", tenant_write(n)) for n in range(TENANT_WRITES)),
        *(("tenant read", tenant_read) for _ in range(TENANT_READS)),
    ]


def test_wrong_logins_and_writes_released_together_answer_no_5xx_and_check_no_password_past_the_limit(
    embedded,
):
    database = embedded.var_dir / "gm_server_notify.sqlite3"
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert _recharge(embedded.url, STATION_SENDS).json()["code"] == 0
    calls = _calls(embedded.url)
    barrier = threading.Barrier(len(calls))

    def call(kind: str, request: Callable[[], requests.Response]) -> tuple[str, int, str]:
        barrier.wait(timeout=scaled(60))
        answer = request()
        status = answer.status_code
        # The station API answers 200 with its own code: anything but 0 is a refusal.
        if kind in {"station send", "recharge"} and status == 200 and answer.json()["code"] != 0:
            status = answer.json()["code"]
        return kind, status, answer.text[:300]

    with ThreadPoolExecutor(len(calls)) as pool:
        answers = list(pool.map(lambda kind_call: call(*kind_call), calls))

    assert [answer for answer in answers if answer[1] >= 500] == [], embedded.log()
    statuses = {kind: Counter(s for k, s, _ in answers if k == kind) for kind, _ in calls}
    assert statuses["station send"] == {200: STATION_SENDS}
    assert statuses["recharge"] == {200: RECHARGES}
    assert statuses["tenant write"] == {200: TENANT_WRITES}
    assert statuses["tenant read"] == {200: TENANT_READS}
    # Each wrong password checked is one failure counted, and no more are checked than the limit.
    # The others are refused unchecked: locked, or (a burst waiting on the username's slot past its
    # 10 s) "too many attempts at once".
    checked = statuses["wrong login"][400]
    assert set(statuses["wrong login"]) <= {400, 429}
    with sqlite3.connect(database) as db:
        (failures,) = db.execute("SELECT SUM(failures_since_start) FROM axes_accessattempt").fetchone()
    assert checked == failures <= LIMIT
    balance = requests.get(
        f"{embedded.url}/sms/balance/get",
        params={"station_id": "T7442"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=scaled(60),
    ).json()["data"]["sms_balance"]
    assert balance == RECHARGES
    assert "Traceback" not in embedded.log()
