"""The database killed under a running web: every API family answers its 503 with Retry-After,
never a 500, and answers normally again as soon as the database is back.

gunicorn (make run's configuration: 2 processes of 4 threads, connections kept 60 s) serves a
private ``mariadbd`` (tests/support/infra.py), which the test kills with SIGKILL and starts again.
The web's cache and broker are its own files (the embedded defaults), so only the database fails.
Each call is made several times while the database is down, so threads holding a connection from
before the kill (lost mid-use) and threads connecting afresh (refused) are both met.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tests.support.waiting import scaled

pytest.importorskip("MySQLdb")
if not (shutil.which("mariadbd") or Path("/usr/sbin/mariadbd").exists()):
    pytest.skip("needs MariaDB's mariadbd", allow_module_level=True)

from tests.support.infra import PrivateMariaDB  # after the skips: it imports MySQLdb
from tests.support.web import Web

TOKEN = "dbdown-service-token"
TENANT, ROOT, PASSWORD = "dbdown-tenant", "dbdown-root", "dbdown-password-1"
# Every call of each family is made this often while the database is down (8 threads serve them).
ROUNDS = 3


@pytest.fixture
def web(tmp_path) -> Iterator[tuple[Web, PrivateMariaDB]]:
    db = PrivateMariaDB(tmp_path, database="gm_dbdown")
    # The cache and broker are the web's own files (the embedded defaults): only the database fails.
    stack = Web(
        tmp_path,
        DATABASE_URL=db.url,
        REDIS_URL="",
        CELERY_BROKER_URL="filesystem://localhost/",
        SMS_SERVICE_TOKENS=TOKEN,
    )
    try:
        db.install()
        stack.manage("migrate", "--noinput", "-v0")
        stack.manage("create_api_user", TENANT, API_USER_PASSWORD=PASSWORD)
        stack.manage("create_api_user", ROOT, "--root", API_USER_PASSWORD=PASSWORD)
        stack.start()
        yield stack, db
    finally:
        stack.stop()
        db.close()


def _calls(url: str, uuid: str) -> dict[str, Callable[[], requests.Response]]:
    """One call of each kind: a station GET and POST, a tenant v1 GET and POST, root's v2."""
    station = {"Authorization": f"Bearer {TOKEN}"}
    tenant, root = (TENANT, PASSWORD), (ROOT, PASSWORD)
    timeout = scaled(20)
    recharge = {
        "combo_id": 4,
        "station_id": "T7442",
        "recharge_nums": 1,
        "recharge_money": "0.10",
        "operator_name": "e2e",
    }
    return {
        "station GET balance/get": lambda: requests.get(
            f"{url}/sms/balance/get", params={"station_id": "T7442"}, headers=station, timeout=timeout
        ),
        "station POST recharge_record/create": lambda: requests.post(
            f"{url}/sms/recharge_record/create", json=recharge, headers=station, timeout=timeout
        ),
        "v1 GET message": lambda: requests.get(
            f"{url}/v1/message", params={"uuid": uuid}, auth=tenant, timeout=timeout
        ),
        "v1 POST signature": lambda: requests.post(
            f"{url}/v1/signature",
            json={"signature": "去采购", "source": "营业执照"},
            auth=tenant,
            timeout=timeout,
        ),
        "v2 POST charge": lambda: requests.post(
            f"{url}/v2/charge", json={"user": TENANT, "charge": 1}, auth=root, timeout=timeout
        ),
    }


def _a_sent_message(url: str) -> str:
    """The uuid of a message the tenant sent (no worker runs: it stays queued)."""
    tenant, root = (TENANT, PASSWORD), (ROOT, PASSWORD)

    def post(path: str, body: dict, auth: tuple[str, str]) -> dict:
        answer = requests.post(f"{url}{path}", json=body, auth=auth, timeout=scaled(20))
        assert answer.status_code == 200, (path, answer.text)
        return answer.json()

    sign = post("/v1/signature", {"signature": "去采购", "source": "营业执照"}, tenant)["sign_id"]
    post("/v2/signreview", {"sign_id": sign, "audit_status": "passed"}, root)
    template = {
        "name": "发货",
        "template": "您的订单{1}已发货。",
        "type": 2,
        "description": "x",
        "sign_id": sign,
    }
    temp = post("/v1/template", template, tenant)["temp_id"]
    post("/v2/tempreview", {"temp_id": temp, "audit_status": "passed"}, root)
    post("/v2/charge", {"user": TENANT, "charge": 10}, root)
    message = {"sign_id": sign, "temp_id": temp, "mobiles": ["13112341234"], "params": ["PL1"]}
    return post("/v1/message", message, tenant)["uuid"]


def _failure(name: str, answer: requests.Response) -> str:
    return f"{name}: {answer.status_code} {dict(answer.headers)} {answer.text}"


def test_while_the_database_is_down_each_family_answers_its_503_and_recovers(web):
    stack, db = web
    uuid = _a_sent_message(stack.url)
    calls = _calls(stack.url, uuid)
    # Every thread of both processes holds a database connection from before the kill.
    for _ in range(ROUNDS):
        for name, call in calls.items():
            answer = call()
            assert answer.status_code == 200, _failure(name, answer)

    db.close()  # SIGKILL, as the outage
    for _ in range(ROUNDS):
        for name, call in calls.items():
            answer = call()
            assert answer.status_code == 503, _failure(name, answer)
            assert int(answer.headers["Retry-After"]) > 0, _failure(name, answer)
            if name.startswith("station"):
                assert answer.json() == {
                    "code": 1098,
                    "msg": "temporarily unavailable: retry later",
                    "data": None,
                }, _failure(name, answer)
            else:
                assert answer.json() == {
                    "error": "ER:0098",
                    "message": "service unavailable: retry later",
                }, _failure(name, answer)
    ready = requests.get(f"{stack.url}/readyz", timeout=scaled(20))
    assert ready.status_code == 503 and "database" in ready.json()["down"], ready.text

    db.start()
    # Back at once: each thread's broken connection was dropped or fails its health check.
    for _ in range(ROUNDS):
        for name, call in calls.items():
            answer = call()
            assert answer.status_code == 200, _failure(name, answer) + "\n" + stack.log()
    assert calls["station GET balance/get"]().json()["data"] == {"sms_balance": 2 * ROUNDS}
    progress = calls["v1 GET message"]().json()
    assert progress["total"] == 1, progress
    assert "Internal Server Error" not in stack.log()
