"""Fixtures of the tenant guard's suites: a tenant ready to send each kind of template over
``v1/message``, and what "nothing written" means for a refused request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest

from sms.models import BalanceLedger, MessageBatch, PrefixPause, SendRecord, TenantAccount, WebhookEvent
from tests.support.platform import make_signature, make_template

VERIFY = "您的验证码为{1}，{2}分钟内有效。"
NOTICE = "您的订单{1}已发货"
MARKETING = "双十二全场5折{1}，回T退订"
PARAMS = {1: ["112095", "5"], 2: ["PL1"], 3: ["PL1"]}


@dataclass
class Sender:
    """A tenant with a passed signature and a template of each type, over ``v1/message``."""

    client: Any
    user: Any
    sign_id: int
    templates: dict[int, int]  # type -> temp_id

    @property
    def account(self) -> TenantAccount:
        return TenantAccount.objects.get(user=self.user)

    def post(self, mobiles: list[str], *, kind: int = 1, **extra: Any) -> Any:
        body = {
            "sign_id": self.sign_id,
            "temp_id": self.templates[kind],
            "mobiles": mobiles,
            "params": PARAMS[kind],
            **extra,
        }
        with mock.patch("sms.sending.pipeline.publish_dispatch"):
            return self.client.post("/v1/message", body, format="json")

    def send(self, mobiles: list[str], *, kind: int = 1, **extra: Any) -> str:
        response = self.post(mobiles, kind=kind, **extra)
        assert response.status_code == 200, response.json()
        return response.json()["uuid"]

    def states(self, batch_uuid: str) -> dict[str, tuple[str, str]]:
        """mobile -> (state, reason), as GET v1/message lists them."""
        answer = self.client.get("/v1/message", {"uuid": batch_uuid}).json()
        return {item["mobile"]: (item["state"], item["reason"]) for item in answer["items"]}

    def balance(self) -> int:
        return self.client.get("/v1/balance").json()["balance"]


def make_sender(user, basic_client, root_user, *, charge: int = 1000) -> Sender:
    sign = make_signature(user)
    templates = {
        1: make_template(user, sign, template=VERIFY, template_type=1).pk,
        2: make_template(user, sign, template=NOTICE, template_type=2).pk,
        3: make_template(user, sign, template=MARKETING, template_type=3).pk,
    }
    answer = basic_client(root_user).post(
        "/v2/charge", {"user": user.username, "charge": charge}, format="json"
    )
    assert answer.status_code == 200, answer.json()
    return Sender(basic_client(user), user, sign.pk, templates)


@pytest.fixture
def sender(tenant, basic_client, root_user, business_clock) -> Sender:
    """The tenant ``dcs`` with 1000 messages, at 10:00 China time (within the marketing hours)."""
    import datetime as dt

    business_clock.set_now(dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    return make_sender(tenant, basic_client, root_user)


def footprint() -> dict[str, int]:
    """What a send writes: batches, records, ledger rows, webhook events, pauses."""
    return {
        "batches": MessageBatch.objects.count(),
        "records": SendRecord.objects.count(),
        "ledger": BalanceLedger.objects.count(),
        "events": WebhookEvent.objects.count(),
        "pauses": PrefixPause.objects.count(),
    }
