"""sms.core.csv_files: the cells a spreadsheet would run as a formula are defused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sms.core.csv_files import safe_cell


@pytest.mark.parametrize("text", ["=1+1", "+86", "-cmd", "@SUM(A1)", "\tx", "\rx"])
def test_a_text_that_starts_like_a_formula_gets_an_apostrophe(text):
    assert safe_cell(text) == f"'{text}"


@pytest.mark.parametrize("value", ["UNDELIV", "去采购", "a=b", "", 5, -3.88, Decimal("-5.16"), True])
def test_other_texts_and_every_number_are_left_as_they_are(value):
    assert safe_cell(value) == value


def test_none_is_an_empty_cell():
    assert safe_cell(None) == ""
