"""How providers write phone numbers (``providers.numbers``): the one parser that reports, uplinks,
uplink keys and the numbers we send all read."""

from __future__ import annotations

import pytest

from providers.base import DeliveryReport, DispatchMessageIds, InboundMessage, ReportStatus
from providers.gateway import GatewayAdapter
from providers.numbers import mainland_digits, phone_key, written_number
from providers.tencent import TencentAdapter


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("13812341234", "+8613812341234"),  # the gateway's and sjroom's mainland digits
        ("8613812341234", "+8613812341234"),
        ("+8613812341234", "+8613812341234"),  # Tencent's PhoneNumber
        (" +86 138 1234 1234 ", "+8613812341234"),
        ("+447911123456", "+447911123456"),
        ("+13812341234", "+13812341234"),  # a "+" before 11 digits from 1: country 1, not the mainland
        ("447911123456", "+447911123456"),  # bare digits of no mainland form: E.164 without its "+"
        ("138****1234", ""),  # masked: it names no one number
        ("", ""),
        ("n/a", ""),
    ],
)
def test_a_written_number_names_its_e164_number(written, e164):
    assert written_number(written).e164 == e164


@pytest.mark.parametrize(
    ("written", "mainland", "national"),
    [
        ("13812341234", True, "13812341234"),
        ("+8613812341234", True, "13812341234"),
        ("86138****1234", True, "138****1234"),
        ("+13812341234", False, "13812341234"),
        ("+447911123456", False, "447911123456"),
        ("23812341234", False, "23812341234"),
    ],
)
def test_mainland_mobiles_are_told_with_or_without_86(written, mainland, national):
    number = written_number(written)
    assert (number.mainland, number.national) == (mainland, national)


@pytest.mark.parametrize(
    ("written", "head", "tail", "e164_head", "identifying"),
    [
        ("135****9831", "135", "9831", "+86135", True),  # seed 002's pulled report
        ("86135****9831", "86135", "9831", "+86135", True),
        ("+86135****9831", "86135", "9831", "+86135", True),
        ("+4479****3456", "4479", "3456", "+4479", True),
        ("13****831", "13", "831", "+13", False),  # 5 visible digits tell too little
        ("****9831", "", "9831", "+", False),
    ],
)
def test_a_masked_number_keeps_its_visible_head_and_tail(written, head, tail, e164_head, identifying):
    number = written_number(written)
    assert number.masked
    assert (number.head, number.tail, number.e164_head, number.identifying) == (
        head,
        tail,
        e164_head,
        identifying,
    )


@pytest.mark.parametrize(
    ("written", "record", "fits"),
    [
        ("135****9831", "+8613500009831", True),
        ("86135****9831", "+8613500009831", True),
        ("135****9832", "+8613500009831", False),
        ("136****9831", "+8613500009831", False),
        ("13500009831", "+8613500009831", True),
        ("+8613500009831", "+8613500009831", True),
        ("13500009832", "+8613500009831", False),
        ("0009831", "+8613500009831", True),  # the last 7 digits are enough
        ("009831", "+8613500009831", False),  # 6 are not
        ("", "+8613500009831", True),  # a report naming no number says nothing against it
        ("n/a", "+8613500009831", False),
        ("+4479****3456", "+447911123456", True),
    ],
)
def test_a_written_number_fits_the_records_it_can_be(written, record, fits):
    assert written_number(written).fits(record) is fits


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("13812341234", "138*1234"),
        ("+8613812341234", "138*1234"),
        ("138****1234", "138*1234"),
        ("86138****1234", "138*1234"),
        ("+447700900123", "447700900123"),
        ("139", "139"),
    ],
)
def test_the_uplink_key_is_the_same_masked_or_not(written, key):
    assert phone_key(written) == key == written_number(written).key


def test_domestic_providers_are_sent_a_mainland_numbers_11_digits():
    assert mainland_digits("+8613812341234") == "13812341234"
    assert mainland_digits("+447911123456") == "+447911123456"


def test_plain_says_whether_only_digits_stars_and_a_leading_plus_were_written():
    assert written_number("+86138****1234").plain
    assert not written_number("+86 138 1234 1234").plain
    assert not written_number("$Dcwm1386$abc*1234$1$$").plain  # a Douyin phone ciphertext


def test_a_masked_report_names_its_dispatch_and_fits_by_its_mask():
    masked = DeliveryReport(
        provider="gateway", status=ReportStatus.DELIVERED, dispatch_id="t9", phone="131****0004"
    )
    assert masked.names_dispatch
    assert masked.fits("+8613100000004") and not masked.fits("+8613100000005")
    whole = DeliveryReport(
        provider="gateway",
        status=ReportStatus.DELIVERED,
        provider_message_id="t9:13100000004",
        phone="13100000004",
    )
    assert not whole.names_dispatch
    assert whole.number.e164 == "+8613100000004"


def test_an_uplink_reads_its_number_the_same_way():
    assert InboundMessage(provider="gateway", phone="138****1234", text="TD").number.e164_head == "+86138"


def test_the_gateway_declares_how_its_message_ids_are_made():
    ids = GatewayAdapter.message_ids
    assert ids == DispatchMessageIds(separator=":")
    [report] = GatewayAdapter().parse_status_callback(
        b'{"sendId": "task-1", "mobile": "13500009831", "status": "DELIVRD"}'
    )
    assert report.provider_message_id == ids.message_id("task-1", mainland_digits("+8613500009831"))
    assert TencentAdapter.message_ids is None  # Tencent issues its own serial numbers


@pytest.mark.parametrize(
    ("written", "tells_apart"),
    [
        ("13812341234", True),
        ("+8613812341234", True),
        ("138****1234", True),
        ("", False),
        ("   ", False),
        ("***********", False),
        ("138****", False),
        ("****1234", False),
        ("n/a", False),
    ],
)
def test_only_a_number_showing_enough_tells_numbers_apart(written, tells_apart):
    assert written_number(written).tells_apart is tells_apart
