"""Structured logs: request ids and masked phone numbers."""

import json
import logging
import re

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


# 2026-12-04T14:33:05.123 UTC: 22:33 in China, the zone Django gives the process (TIME_ZONE).
CREATED = 1796394785.123
ISO_UTC = "2026-12-04T14:33:05.123+00:00"


def _record(name: str = "sms") -> logging.LogRecord:
    record = logging.LogRecord(name, logging.WARNING, __file__, 1, "hello", (), None)
    record.created, record.msecs = CREATED, 123.0
    return record


@pytest.mark.parametrize("name", ["json", "plain"])
def test_log_lines_carry_iso_8601_utc_times_whatever_the_process_zone(settings, name):
    import logging.config
    import time

    assert time.localtime(CREATED).tm_hour == 22  # the process runs on China time
    config = logging.config.DictConfigurator(settings.LOGGING)
    formatter = config.configure_formatter(dict(settings.LOGGING["formatters"][name]))
    record = _record()
    RequestIdFilter().filter(record)
    line = formatter.format(record)
    if name == "json":
        assert json.loads(line)["time"] == ISO_UTC
    else:
        assert line == f"{ISO_UTC} WARNING sms [-] hello"


@pytest.mark.parametrize("log_format", ["json", "plain"])
def test_gunicorns_lines_carry_the_same_clock_and_form(monkeypatch, log_format):
    """gunicorn.conf.py's logger class: the service's form (LOG_FORMAT), the one clock."""
    import runpy
    import sys

    from gunicorn.config import Config

    from tests.support.make_run import REPO_ROOT

    monkeypatch.setenv("LOG_FORMAT", log_format)
    logger_class = runpy.run_path(str(REPO_ROOT / "gunicorn.conf.py"))["logger_class"]
    config = Config()
    config.set("errorlog", "-")
    logger = logger_class(config)
    try:
        [handler] = [handler for handler in logger.error_log.handlers if handler.stream is sys.stderr]
        line = handler.formatter.format(_record("gunicorn.error"))
    finally:
        for log in (logger.error_log, logger.access_log):
            log.handlers.clear()
    if log_format == "json":
        assert json.loads(line) == {
            "time": ISO_UTC,
            "level": "WARNING",
            "logger": "gunicorn.error",
            "request_id": "-",
            "message": "hello",
        }
    else:
        assert line == f"{ISO_UTC} WARNING gunicorn.error [-] hello"
    # %(t)s of an access log format
    assert re.fullmatch(r"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00\]", logger.now())


def test_a_project_loggers_line_through_the_configured_handler_masks_the_phone():
    """Through the logging Django configured from settings.LOGGING (its ``console`` handler on
    the root logger), not a filter built by hand: removing ``mask_phones`` from the handler's
    filters in the settings fails this test."""
    import io

    [console] = [handler for handler in logging.getLogger().handlers if handler.name == "console"]
    stream = io.StringIO()
    previous = console.setStream(stream)
    try:
        logging.getLogger("sms.sending.pipeline").warning(
            "dispatch to %s failed, and to +8613112349876", "13112341234"
        )
    finally:
        console.setStream(previous)
    output = stream.getvalue()
    assert output, "nothing reached the configured console handler"
    [line] = output.splitlines()  # JSON or plain (LOG_FORMAT): the message is in it as written
    assert "dispatch to 131****1234 failed, and to 131****9876" in line
    assert "13112341234" not in output and "13112349876" not in output
