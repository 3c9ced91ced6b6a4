"""Structured logs: request ids and masked phone numbers."""

import json
import logging

import pytest

from gm_server_notify.logging import MaskPhonesFilter, RequestIdFilter, mask_phones, request_id_var


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("send to 13112341234 ok", "send to 131****1234 ok"),
        ("+8613112341234", "131****1234"),
        ("order 5001789329480019707 stays", "order 5001789329480019707 stays"),
        ("ids 12345678901", "ids 12345678901"),
    ],
)
def test_mobile_numbers_are_masked_and_other_digits_kept(text, masked):
    assert mask_phones(text) == masked


def test_json_log_line_carries_request_id_and_no_full_phone(settings):
    from pythonjsonlogger.json import JsonFormatter

    formatter = JsonFormatter("%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s")
    record = logging.LogRecord(
        "sms", logging.INFO, __file__, 1, "added record %s to %s", (7, "13112341234"), None
    )
    token = request_id_var.set("req-42")
    try:
        for log_filter in (RequestIdFilter(), MaskPhonesFilter()):
            log_filter.filter(record)
    finally:
        request_id_var.reset(token)
    line = json.loads(formatter.format(record))
    assert line["request_id"] == "req-42"
    assert line["message"] == "added record 7 to 131****1234"


@pytest.mark.django_db
def test_responses_answer_the_callers_request_id_or_a_new_one(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    generated = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\n")["X-Request-ID"]
    assert generated != "bad id\n" and len(generated) == 32


def test_douyin_phone_ciphertexts_are_masked_and_dollar_amounts_kept():
    from tests.providers.test_fw199 import SEED_CIPHERTEXT

    line = f"sent to {SEED_CIPHERTEXT} and 13112341234 for $5 ($1.50 each)"
    assert mask_phones(line) == "sent to $Dcwm**** and 131****1234 for $5 ($1.50 each)"
