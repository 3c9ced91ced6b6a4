"""Seed 002's gateway pushes each report once: a dropped push is made good by the report pull,
on by default, whose numbers are masked (``135****9831``) and matched by taskId and mask."""

from __future__ import annotations

import base64

import pytest
import requests

from sms.models import RecordState, SendRecord, TenantAccount
from sms.tenant_api import services as tenant_services
from tests.e2e.conftest import wait_until
from tests.support.factories import TEST_PASSWORD
from tests.support.platform import make_signature, make_template

pytestmark = pytest.mark.worker


def test_a_record_whose_push_was_dropped_is_made_final_by_the_masked_pull(stack, tenant):
    stack.simulator.state.config.push_targets["gateway"] = {
        "status": "http://127.0.0.1:9/providers/gateway/status"
    }
    stack.worker(beat=True, env={"SMS_SWEEP_SECONDS": "1"})  # SMS_PULL_REPORT_PROVIDERS left at its default
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="您的订单{1}已发货。", template_type=2)
    tenant_services.charge_tenant(username=tenant.username, charge=10)
    auth = base64.b64encode(f"{tenant.username}:{TEST_PASSWORD}".encode()).decode()
    answer = requests.post(
        f"{stack.url}/v1/message",
        headers={"Authorization": f"Basic {auth}"},
        json={
            "sign_id": sign.pk,
            "temp_id": template.pk,
            "mobiles": ["13100000001", "13100000004"],
            "params": ["A1"],
        },
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    wait_until(
        lambda: SendRecord.objects.filter(state__in=[RecordState.DELIVERED, RecordState.FAILED]).count() == 2,
        message="both final through the pull",
    )
    states = dict(SendRecord.objects.values_list("receive_phone", "state"))
    assert states == {"13100000001": RecordState.DELIVERED, "13100000004": RecordState.FAILED}
    stats = stack.simulator.stats()["gateway"]
    assert stats["reports_acknowledged"] == 0  # every push was lost
    assert TenantAccount.objects.get(user=tenant).balance_nums == 8
