"""The phone rules of docs/phones.md (issue 20, item 8): what is accepted, what is refused, and
the libphonenumber data version they hold for."""

from __future__ import annotations

import re
from pathlib import Path
from unittest import mock

import phonenumbers
import pytest

from sms.core import phones
from sms.core.phones import InvalidPhone, parse_mobile
from sms.models import SendRecord
from tests.sms.conftest import seed_send_request
from tests.support.platform import make_signature, make_template

ROOT = Path(__file__).resolve().parents[2]


def _pinned_phonenumbers() -> str:
    requirements = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    match = re.search(r"^phonenumbers==(\S+)$", requirements, re.MULTILINE)
    assert match, "phonenumbers is pinned exactly in requirements.txt"
    return match.group(1)


def test_the_phone_rules_are_documented_for_the_pinned_phonenumbers_version():
    version = _pinned_phonenumbers()
    assert phonenumbers.__version__ == version
    doc = (ROOT / "docs" / "phones.md").read_text(encoding="utf-8")
    assert f"phonenumbers=={version}" in doc
    for topic in ("14x", "170", "全角", "00", "+86"):
        assert topic in doc
    assert "docs/phones.md" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "raw",
    [
        "13112341234x12",  # an extension: libphonenumber dropped it and sent to the main number
        "13112341234 ext. 12",
        "tel:+8613112341234",
        "\u0661\u0663\u0661\u0661\u0662\u0663\u0664\u0661\u0662\u0663\u0664",  # Arabic-Indic digits
        "131#1234*1234",
        "131+12341234",
        "+8+613112341234",
    ],
)
def test_letters_extensions_and_other_scripts_digits_are_refused(raw):
    with pytest.raises(InvalidPhone):
        parse_mobile(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "１３１１２３４１２３４",
        "＋８６　１３１－１２３４－１２３４",
        "００８６１３１１２３４１２３４",
        "（＋８６）13112341234",
    ],
)
def test_full_width_digits_and_signs_are_read_as_ascii(raw):
    phone = parse_mobile(raw)
    assert (phone.e164, phone.national) == ("+8613112341234", "13112341234")


@pytest.mark.parametrize(
    "raw",
    [
        "14012345678",  # IoT and data-only ranges libphonenumber's data does not list as mobile
        "14112345678",
        "14412345678",
        "14612345678",
        "14812345678",
        "14912345678",
        "1440123456789",  # 13-digit IoT numbers
        "1064812345678",
    ],
)
def test_iot_14x_numbers_outside_libphonenumbers_data_are_refused(raw):
    with pytest.raises(InvalidPhone):
        parse_mobile(raw)


@pytest.mark.parametrize("prefix", ["170", "171", "162", "165", "167", "145", "147", "192"])
def test_virtual_operator_and_other_listed_mobile_prefixes_are_accepted(prefix):
    assert parse_mobile(f"{prefix}12345678").e164 == f"+86{prefix}12345678"


def test_numbers_without_a_plus_are_read_as_mainland():
    assert parse_mobile("8613112341234").e164 == "+8613112341234"  # a mainland number with its 86
    with pytest.raises(InvalidPhone):
        parse_mobile("447911123456")  # a UK number without + is not a mainland number
    assert parse_mobile("+447911123456").country_code == 44
    assert parse_mobile("0044 7911 123456").e164 == "+447911123456"


@pytest.mark.django_db
def test_the_station_api_refuses_an_extension_1002(station_client, recharge):
    recharge("T7442", 10)
    body = station_client.post(
        "/sms/send/add", seed_send_request(receive_phone="13112341234x12"), format="json"
    ).json()
    assert body["code"] == 1002 and body["msg"].startswith("receive_phone:"), body
    assert not SendRecord.objects.exists()


@pytest.mark.django_db
def test_the_tenant_api_reads_full_width_mobiles_and_names_refused_ones(basic_client, tenant, root_user):
    sign = make_signature(tenant)
    template = make_template(tenant, sign, template="订单{1}已发货", template_type=2)
    basic_client(root_user).post("/v2/charge", {"user": tenant.username, "charge": 10}, format="json")
    client = basic_client(tenant)

    def send(mobiles):
        with mock.patch("sms.sending.pipeline.publish_dispatch"):
            return client.post(
                "/v1/message",
                {"sign_id": sign.pk, "temp_id": template.pk, "mobiles": mobiles, "params": ["PL1"]},
                format="json",
            )

    refused = send(["13112341234", "13112341234x12"])
    assert (refused.status_code, refused.json()["error"]) == (403, "ER:0033")
    assert "13112341234x12" in refused.json()["message"]
    accepted = send(["１３１１２３４１２３４"])
    assert accepted.status_code == 200, accepted.json()
    record = SendRecord.objects.get()
    assert (record.receive_phone, record.phone_e164) == ("13112341234", "+8613112341234")


def _full_path(text: str) -> str | None:
    """libphonenumber's whole answer for a number: its E.164 form when a valid mobile, else None."""
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None
    if (
        not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) not in phones.MOBILE_TYPES
    ):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_the_fast_path_for_plain_mainland_numbers_answers_as_libphonenumber_does():
    """``parse_mobile`` skips parsing for 11 plain digits (issue 16); every number it accepts
    that way must be one libphonenumber accepts, with the same E.164 form. Checked over every
    prefix 1000…1999 with three endings, and every 5-digit prefix of the common 13x-19x ranges
    with one; a number it does not take goes through the full path, so refusals cannot differ."""
    import random

    rng = random.Random(20261202)
    numbers = [f"{prefix}{rng.randrange(10**7):07d}" for prefix in range(1000, 2000) for _ in range(3)]
    numbers += [f"{prefix}{rng.randrange(10**6):06d}" for prefix in range(13000, 20000)]
    accepted = 0
    for text in numbers:
        fast = phones._plain_mainland_mobile(text)
        if fast is not None:
            accepted += 1
            assert fast.e164 == _full_path(text), text
            assert (fast.national, fast.country_code) == (text, 86)
    assert accepted > len(numbers) / 3  # the fast path is taken for most real numbers


@pytest.mark.parametrize("raw", ["14012341234", "12012341234", "10012341234", "1311234123", "131123412345"])
def test_the_fast_path_leaves_what_it_does_not_accept_to_the_full_path(raw):
    assert phones._plain_mainland_mobile(raw) is None
    with pytest.raises(InvalidPhone):
        parse_mobile(raw)
