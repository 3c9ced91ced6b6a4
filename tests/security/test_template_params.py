"""Parameters cannot turn a reviewed template into another message (issue 19, finding 7)."""

from __future__ import annotations

from unittest import mock

import pytest

from sms.models import BalanceLedger, SendRecord
from tests.support.platform import make_signature, make_template

pytestmark = pytest.mark.django_db

VERIFY = "您的验证码为{1}，{2}分钟内有效。"


@pytest.fixture
def send(tenant, basic_client, root_user):
    sign = make_signature(tenant)
    templates = {
        1: make_template(tenant, sign, template=VERIFY, template_type=1),
        2: make_template(tenant, sign, template="您的订单{1}已发货。", template_type=2),
        3: make_template(tenant, sign, template="{1}，回T退订", template_type=3),
    }
    basic_client(root_user).post("/v2/charge", {"user": tenant.username, "charge": 100}, format="json")

    def post(template_type: int, params: list[str]):
        with mock.patch("sms.sending.pipeline.publish_dispatch"):
            return basic_client(tenant).post(
                "/v1/message",
                {
                    "sign_id": sign.pk,
                    "temp_id": templates[template_type].pk,
                    "mobiles": ["13100000001"],
                    "params": params,
                },
                format="json",
            )

    return post


def _refused(response, words: str) -> None:
    assert response.status_code == 403, response.json()
    assert response.json()["error"] == "ER:0021" and words in response.json()["message"]
    assert not SendRecord.objects.exists() and not BalanceLedger.objects.filter(reason="reserve").exists()


def test_a_phishing_link_in_a_verification_code_is_refused(send):
    _refused(send(1, ["0\n\n点击 http://evil.example/x 领取退款", "5"]), "line break")


@pytest.mark.parametrize(
    "params",
    [["12ab", "5分钟"], ["1234567890", "5"], ["12", "5"], ["12 34", "5"], ["１２３４", "5"]],
)
def test_a_verification_code_is_four_to_eight_ascii_letters_or_digits(send, params):
    response = send(1, params)
    assert response.status_code == 403 and response.json()["error"] == "ER:0021", params


@pytest.mark.parametrize("params", [["112095", "5"], ["Ab12", "10"], ["AbCd1234", "5"]])
def test_a_verification_code_of_four_to_eight_passes(send, params):
    assert send(1, params).status_code == 200


@pytest.mark.parametrize("template_type", [2, 3])
@pytest.mark.parametrize(
    ("param", "words"),
    [
        ("PL1\r\n点击领取", "line break"),
        ("PL1\u2028x", "line break"),
        ("见 https://evil.example", "link"),
        ("见 HTTP://evil.example", "link"),
        ("见 www.evil.example", "link"),
    ],
)
def test_no_template_type_takes_a_line_break_or_a_link(send, template_type, param, words):
    _refused(send(template_type, [param]), words)


def test_a_notice_takes_ordinary_text(send):
    assert send(2, ["SF1234567 顺丰"]).status_code == 200
