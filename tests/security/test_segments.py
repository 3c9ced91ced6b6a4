"""Billing by the units carriers count (issue 19, finding 9): UCS-2 units for Chinese and emoji
(a character outside the Basic Multilingual Plane is two), GSM-7 septets for text that fits that
alphabet when the number is outside the mainland."""

from __future__ import annotations

import pytest

from sms.core.content import count_segments


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("字" * 70, 1),
        ("字" * 71, 2),
        ("字" * 134, 2),
        ("字" * 135, 3),
        ("😀" * 35, 1),  # 70 units
        ("😀" * 35 + "a", 2),  # 71 units
        ("😀" * 64, 2),  # 128 units: 2 parts of 67
        ("【去采购】" + "😀" * 64 + "x" * 6, 3),  # 139 units, once billed as 2
        ("a" * 160, 3),  # mainland: UCS-2 whatever the text
    ],
)
def test_mainland_numbers_are_billed_in_ucs2_units(text, segments):
    assert count_segments(text) == segments


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("{" * 80, 1),  # extension characters take two septets
        ("{" * 81, 2),
        ("é" * 160, 1),  # in the GSM-7 basic table
        ("字" + "a" * 69, 1),  # not GSM-7: UCS-2 units
        ("字" + "a" * 70, 2),
        ("ç" * 71, 2),  # ç (lower case) is not in the basic table: UCS-2
    ],
)
def test_international_numbers_are_billed_in_gsm7_septets_when_the_text_fits(text, segments):
    assert count_segments(text, gsm7_allowed=True) == segments


@pytest.mark.django_db
def test_an_emoji_parameter_reserves_what_the_carrier_bills(tenant, basic_client, root_user):
    """``params: ["😀" * 64]`` was billed as 2 parts; with its signature and text it is 3."""
    from unittest import mock

    from sms.models import SendRecord
    from tests.support.platform import make_signature, make_template

    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="{1}xxxxxx", template_type=2)
    basic_client(root_user).post("/v2/charge", {"user": tenant.username, "charge": 10}, format="json")
    with mock.patch("sms.sending.pipeline.publish_dispatch"):
        response = basic_client(tenant).post(
            "/v1/message",
            {"sign_id": sign.pk, "temp_id": template.pk, "mobiles": ["13100000001"], "params": ["😀" * 64]},
            format="json",
        )
    assert response.status_code == 200, response.json()
    assert SendRecord.objects.get().segments == 3
    assert basic_client(tenant).get("/v1/balance").json() == {"balance": 7}
