"""Whole flows: the live service over HTTP, a real worker process, the simulator on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.conftest import SERVICE_TOKEN
from tests.sms.conftest import recharge  # noqa: F401 - the shared fixture
from tests.support.browser import browser  # noqa: F401 - the browser tests and screenshots share it
from tests.support.factories import TEST_PASSWORD
from tests.support.simulator import RunningSimulator, running_simulator
from tests.support.waiting import wait_until  # noqa: F401 - the e2e tests import it from here

CALLBACK_TOKEN = "test-callback-token"
# fw199's Douyin templates (FW199_TEMPLATES) for ``douyin_stack``: type 0 uses the seed's own
# template (its variables name and number, filled from two fields of sms_content); type 1 the
# default template of an order id.
DOUYIN_TEMPLATES = {
    "0": {"template_id": "ST_72dd4e2c", "params": {"name": "express_company", "number": "express_number"}},
    "1": {"template_id": "ST_00000001", "params": {"order_id": "order_id"}},
}


@dataclass
class Stack:
    url: str
    simulator: RunningSimulator
    start_worker: Callable

    def station(self, method: str, path: str, **kwargs) -> dict:
        headers = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
        # Generous: a loaded machine makes a request slower, never a failed test.
        response = requests.request(method, f"{self.url}{path}", headers=headers, timeout=60, **kwargs)
        return response.json()

    def recharge(self, nums: int, *, station_id: str = "T7442") -> None:
        """Give a station ``nums`` messages through ``recharge_record/create`` (the custom combo)."""
        body = self.station(
            "POST",
            "/sms/recharge_record/create",
            json={
                "combo_id": 4,
                "station_id": station_id,
                "recharge_nums": nums,
                "recharge_money": "1.00",
                "operator_name": "e2e",
            },
        )
        assert body["code"] == 0, body

    def station_send(
        self, *, receive_phone: str, business_type: int, sms_content: dict, station_id: str = "T7442"
    ) -> int:
        """``send/add`` then ``send/start`` one station message; its task id."""
        body = self.station(
            "POST",
            "/sms/send/add",
            json={
                "station_id": station_id,
                "receive_phone": receive_phone,
                "business_type": business_type,
                "sms_content": sms_content,
            },
        )
        assert body["code"] == 0, body
        task_id = body["data"]["task_id"]
        assert self.station("POST", "/sms/send/start", json={"task_id": task_id})["code"] == 0
        return task_id

    def tenant_send(self, tenant, sign, template, mobiles: list[str]) -> str:
        """``POST v1/message`` of ``template`` (one parameter) to ``mobiles``; the batch's uuid."""
        answer = requests.post(
            f"{self.url}/v1/message",
            auth=(tenant.username, TEST_PASSWORD),
            timeout=60,
            json={"sign_id": sign.pk, "temp_id": template.pk, "mobiles": mobiles, "params": ["PL1"]},
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["uuid"]

    def worker_env(self) -> dict[str, str]:
        """Point the worker's providers at the simulator."""
        sim = self.simulator.url
        return {
            "TENCENT_SMS_ENDPOINT": sim,
            "GATEWAY_SMS_BASE_URL": sim,
            "FW199_BASE_URL": sim,
            "SJROOM_BASE_URL": sim,
            "PROVIDER_HTTP_TIMEOUT": "2",
            "SMS_RETRY_BASE_SECONDS": "0.2",
            "SMS_RETRY_MAX_SECONDS": "1",
        }

    def push_reports_in_arrays(self, size: int = 100) -> None:
        """The simulator pushes the gateway's reports ``size`` to a request, as JSON arrays,
        instead of one object per request (seed 002, its default): a shortcut for tests of
        thousands of reports whose subject is not the push shape. Django's live test server takes
        about 60 single pushes a second here (10,000 took 174 s, against 4.5 s in arrays of 100)."""
        self.simulator.configure(gateway_push_batch=size)

    def worker(self, **kwargs):
        env = {**self.worker_env(), **kwargs.pop("env", {})}
        return self.start_worker(env=env, **kwargs)


@pytest.fixture
def stack(live_server, start_worker, settings) -> Iterator[Stack]:
    with running_simulator(settings) as simulator:
        simulator.state.config.push = True
        simulator.state.config.report_delay_ms = 50
        simulator.state.config.push_targets = {
            "tencent": {"status": f"{live_server.url}/sms/callback?token={CALLBACK_TOKEN}"},
            "gateway": {"status": f"{live_server.url}/providers/gateway/status?token={CALLBACK_TOKEN}"},
        }
        yield Stack(url=live_server.url, simulator=simulator, start_worker=start_worker)


@pytest.fixture
def douyin_stack(stack, settings) -> Stack:
    """The stack with fw199's Douyin templates in the web process's settings; its workers need
    ``FW199_TEMPLATES`` = ``json.dumps(DOUYIN_TEMPLATES)`` alike."""
    settings.SMS_PROVIDERS = {
        **settings.SMS_PROVIDERS,
        "fw199": {**settings.SMS_PROVIDERS["fw199"], "templates": DOUYIN_TEMPLATES},
    }
    return stack
