"""Segment counting, signatures, phone parsing and masking."""

import pytest

from sms.core.content import count_segments, render_station_message, signature_name
from sms.core.phones import InvalidPhone, is_mainland_e164, mask, parse_mobile


@pytest.mark.parametrize(
    ("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)]
)
def test_segments_are_70_for_one_message_and_67_per_part_beyond(length, segments):
    assert count_segments("字" * length) == segments


@pytest.mark.parametrize("raw", ["[去采购报价单]", "【去采购报价单】", "去采购报价单", " [去采购报价单] "])
def test_signature_brackets_are_normalised(raw):
    assert signature_name(raw) == "去采购报价单"


def test_registration_message_carries_code_and_signature():
    text = render_station_message(2, {"verify_code": "112095", "sms_signature": "[去采购]"})
    assert text.startswith("【去采购】") and "112095" in text


@pytest.mark.parametrize(
    "raw", ["13112341234", 13112341234, "+8613112341234", "008613112341234", "131-1234-1234"]
)
def test_mainland_mobile_forms_parse_to_one_number(raw):
    phone = parse_mobile(raw)
    assert (phone.e164, phone.national, is_mainland_e164(phone.e164)) == (
        "+8613112341234",
        "13112341234",
        True,
    )


@pytest.mark.parametrize("raw", ["", "12345", "1311234123", "02012345678", "+1 555", "abc"])
def test_non_mobiles_are_refused(raw):
    with pytest.raises(InvalidPhone):
        parse_mobile(raw)


def test_foreign_mobile_keeps_its_country():
    phone = parse_mobile("+447911123456")
    assert (phone.country_code, is_mainland_e164(phone.e164), phone.national) == (44, False, "+447911123456")


def test_mask_keeps_prefix_and_last_four():
    assert mask("13112341234") == "131****1234"
    assert mask("+447911123456") == "+4479****3456"
    assert mask("123") == "***"


def test_calling_codes_are_named_by_their_main_region():
    from sms.core.phones import calling_code_regions

    names = calling_code_regions()
    assert names["+86"] == "China (CN)"
    assert names["+44"].startswith("United Kingdom (GB, +")
    assert names["+800"] == "non-geographic"
    assert len(names) > 200
