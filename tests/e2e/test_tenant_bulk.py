"""A tenant's 10,000-mobile message, from v1/message to every mobile delivered."""

import base64

import pytest
import requests

from sms.models import SendRecord, TenantAccount
from tests.e2e.conftest import wait_until
from tests.support.factories import TEST_PASSWORD
from tests.support.platform import make_signature, make_template

pytestmark = pytest.mark.worker


def _basic(user) -> dict[str, str]:
    token = base64.b64encode(f"{user.username}:{TEST_PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_ten_thousand_mobiles_all_reach_delivered_exactly_once(stack, tenant, root_user):
    stack.push_reports_in_arrays()  # speed: 10,000 single pushes take minutes on the live test server
    stack.worker(concurrency=2, beat=True)
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="您的订单{1}已发货。", template_type=2)
    charge = requests.post(
        f"{stack.url}/v2/charge",
        json={"user": tenant.username, "charge": 10000},
        headers=_basic(root_user),
        timeout=10,
    )
    assert charge.json()["balance"] == 10000
    # Every number ends in 1234: none of the simulator's fault suffixes (0004, 0005, 0500, 0408).
    mobiles = [f"131{index:04d}1234" for index in range(10000)]
    answer = requests.post(
        f"{stack.url}/v1/message",
        headers=_basic(tenant),
        timeout=60,
        json={"sign_id": sign.pk, "temp_id": template.pk, "mobiles": mobiles, "params": ["PL2026"]},
    )
    assert answer.status_code == 200, answer.text
    batch_uuid = answer.json()["uuid"]

    def progress() -> dict:
        return requests.get(
            f"{stack.url}/v1/message",
            params={"uuid": batch_uuid, "page_size": 10},
            headers=_basic(tenant),
            timeout=10,
        ).json()

    wait_until(lambda: progress()["counts"]["delivered"] == 10000, timeout=120, message="10,000 delivered")
    assert progress()["counts"] == {"queued": 0, "sending": 0, "delivered": 10000, "failed": 0, "unknown": 0}
    stats = stack.simulator.stats()["gateway"]
    assert (stats["numbers"], stats["distinct_numbers"], stats["duplicated_numbers"]) == (10000, 10000, 0)
    assert stats["requests"] == 4  # 3000 + 3000 + 3000 + 1000
    assert TenantAccount.objects.get(user=tenant).balance_nums == 0
    assert SendRecord.objects.filter(provider="gateway").count() == 10000
