"""CSV for people's spreadsheets: the console's tables, the alerts, a station's export.

A text cell that starts like a formula (``=``, ``+``, ``-``, ``@``, a tab, a carriage return) would
be run by a spreadsheet (CSV injection), and such texts come from outside: provider codes,
remarks, usernames, message texts. They get a leading apostrophe, as OWASP advises; numbers are
left as they are (a negative margin stays a number)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpResponse

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell: None empty, a formula-like text with a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return f"'{value}"
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


def csv_response(header: Sequence[str], rows: Iterable[Iterable[Any]], *, filename: str) -> HttpResponse:
    """A CSV download of ``header`` and ``rows`` (UTF-8, ``\\n`` line ends), every cell safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(safe_row(row) for row in rows)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
