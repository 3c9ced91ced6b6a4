"""Numbers no SMS should go to (issue 26): premium-rate, shared-cost and unallocated ranges, and
every other type that is not a mobile, are refused by libphonenumber's own data with the reason
named (docs/phones.md, "Valid and mobile: the reasons"). Checked with libphonenumber's example
numbers of every region, so a data upgrade that moved a range shows here."""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from sms.core.phones import MOBILE_TYPES, NOT_MOBILE_TYPES, InvalidPhone, parse_mobile
from tests.sms.guard.conftest import footprint

E164 = phonenumbers.PhoneNumberFormat.E164


def examples(kind: PhoneNumberType) -> list[tuple[str, str]]:
    """(region, E.164) of libphonenumber's example number of ``kind`` in each region that has one."""
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        number = phonenumbers.example_number_for_type(region, kind)
        if number is not None:
            found.append((region, phonenumbers.format_number(number, E164)))
    return found


def refusal(text: str) -> str:
    with pytest.raises(InvalidPhone) as refused:
        parse_mobile(text)
    assert str(refused.value) == f"{text!r} is not a valid mobile number: {refused.value.why}"
    return refused.value.why


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        (PhoneNumberType.PREMIUM_RATE, "premium-rate number"),
        (PhoneNumberType.SHARED_COST, "shared-cost number"),
    ],
)
def test_every_regions_premium_rate_and_shared_cost_example_is_refused_by_name(kind, why):
    found = examples(kind)
    assert len(found) > 50, "libphonenumber's data lost its examples"
    refused = {region: refusal(number) for region, number in found}
    assert set(refused.values()) == {why}, {region: got for region, got in refused.items() if got != why}


@pytest.mark.parametrize(
    "kind", [kind for kind in NOT_MOBILE_TYPES if kind is not PhoneNumberType.FIXED_LINE]
)
def test_no_example_of_a_special_type_is_ever_typed_mobile(kind):
    """libphonenumber checks the special ranges before mobile: no premium-rate, shared-cost,
    toll-free … number can pass as a mobile, so no per-number BLOCKED:NUMBER_TYPE is needed."""
    for region, number in examples(kind):
        assert phonenumbers.number_type(phonenumbers.parse(number)) not in MOBILE_TYPES, (region, number)
        assert refusal(number) == NOT_MOBILE_TYPES[kind], (region, number)


def test_a_fixed_line_is_refused_unless_the_plan_cannot_tell_it_from_a_mobile():
    for region, number in examples(PhoneNumberType.FIXED_LINE):
        if phonenumbers.number_type(phonenumbers.parse(number)) == PhoneNumberType.FIXED_LINE_OR_MOBILE:
            assert parse_mobile(number).e164 == number, region  # the US, Canada…: accepted, as before
        else:
            assert refusal(number) == "fixed-line number", (region, number)


def test_every_regions_invalid_example_is_refused_as_unallocated_or_wrong_length():
    seen = set()
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        number = phonenumbers.invalid_example_number(region)
        if number is None:
            continue
        possible = phonenumbers.is_possible_number_with_reason(number)
        expected = "unallocated" if possible == phonenumbers.ValidationResult.IS_POSSIBLE else "wrong length"
        assert refusal(phonenumbers.format_number(number, E164)) == expected, region
        seen.add(expected)
    assert seen == {"unallocated", "wrong length"}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("12345", "wrong length"),
        ("+8615412345678", "unallocated"),
        ("+449012345678", "premium-rate number"),
        ("4001234567", "shared-cost number"),
        ("+448001234567", "toll-free number"),
        ("057188888888", "fixed-line number"),
        ("tel:+8613112341234", "not a phone number"),
    ],
)
def test_the_reasons_of_the_docs_examples(text, why):
    if why == "not a phone number":
        with pytest.raises(InvalidPhone) as refused:
            parse_mobile(text)
        assert refused.value.why == why
    else:
        assert refusal(text) == why


@pytest.mark.django_db
def test_er0033_names_each_refused_number_with_why_and_writes_nothing(sender):
    before = footprint()
    response = sender.post(["13912340001", "12345", "+449012345678", "4001234567"])
    assert response.status_code == 403
    assert response.json() == {
        "error": "ER:0033",
        "message": "invalidate mobile exist: 12345 (wrong length), +449012345678 (premium-rate number), "
        "4001234567 (shared-cost number)",
    }
    assert footprint() == before


@pytest.mark.django_db
def test_the_station_api_says_why_too(station_client, recharge):
    recharge("T7442", 10)
    answer = station_client.post(
        "/sms/send/add",
        {
            "station_id": "T7442",
            "receive_phone": "+449012345678",
            "business_type": 2,
            "sms_content": {"verify_code": "112095", "sms_signature": "去采购"},
        },
        format="json",
    ).json()
    assert (answer["code"], answer["msg"]) == (
        1002,
        "receive_phone: '+449012345678' is not a valid mobile number: premium-rate number",
    )
