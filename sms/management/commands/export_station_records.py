"""``manage.py export_station_records STATION --from YYYY-MM-DD --to YYYY-MM-DD``: a station's send
records added within those China-time days (both included), as CSV for the station's own
administrators, oldest first. Mobile numbers are masked as the admin masks them (``131****1234``)
unless ``--full-mobiles``. Streams: rows are read a chunk at a time and written as they come
(docs/operations.md, "Exporting a station's records")."""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit import services as audit
from audit.models import AuditAction
from audit.services import Actor
from gm_server_notify.api.fields import MAX_DATE, MIN_DATE
from sms.core.csv_files import safe_cell
from sms.core.phones import mask
from sms.station_api.selectors import MAX_RANGE_DAYS, station_exists, station_records_for_export

HEADER = (
    "task_id",
    "created_at",
    "submitted_at",
    "finished_at",
    "mobile",
    "business_type",
    "status",
    "state",
    "provider",
    "provider_code",
    "remark",
    "segments",
    "billed_parts",
    "content",
)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(value: str, option: str) -> dt.date:
    try:
        if not _DAY.fullmatch(value):
            raise ValueError(value)
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{option}: {value!r} is not a date YYYY-MM-DD") from exc
    if not MIN_DATE <= day <= MAX_DATE:
        raise CommandError(f"{option}: {value} is not between {MIN_DATE} and {MAX_DATE}")
    return day


def _time(moment: dt.datetime | None) -> str:
    return "" if moment is None else timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def csv_rows(records: Iterable[dict[str, Any]], *, full_mobiles: bool) -> Iterable[list[Any]]:
    """Each record as a CSV row of ``HEADER``; times in China time."""
    for record in records:
        phone = record["receive_phone"]
        yield [
            record["id"],
            _time(record["created_at"]),
            _time(record["submitted_at"]),
            _time(record["finished_at"]),
            phone if full_mobiles else mask(phone),
            "" if record["business_type"] is None else record["business_type"],
            record["status"],
            record["state"],
            record["provider"],
            safe_cell(record["provider_code"]),
            safe_cell(record["remark"]),
            record["segments"],
            "" if record["billed_parts"] is None else record["billed_parts"],
            safe_cell(record["content"]),
        ]


class Command(BaseCommand):
    help = "Write a station's send records of a range of China-time days as CSV (masked mobiles by default)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("station", help="the station id (T7442)")
        parser.add_argument(
            "--from", dest="start", required=True, help="the first day, YYYY-MM-DD (China time)"
        )
        parser.add_argument(
            "--to", dest="end", required=True, help="the last day, included, YYYY-MM-DD (China time)"
        )
        parser.add_argument(
            "--full-mobiles", action="store_true", help="write full mobile numbers instead of 131****1234"
        )
        parser.add_argument("--output", default="", help="a file to write (default: standard output)")

    def handle(
        self, *args: Any, station: str, start: str, end: str, full_mobiles: bool, output: str, **options: Any
    ) -> None:
        first, last = _day(start, "--from"), _day(end, "--to")
        if last < first:
            raise CommandError(f"--to {last} is before --from {first}")
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise CommandError(f"the range may span at most {MAX_RANGE_DAYS} days; export it in parts")
        station = station.strip()
        if not station_exists(station_id=station):
            raise CommandError(f"unknown station {station!r}")
        records = station_records_for_export(station_id=station, start_date=first, end_date=last)
        if output:
            count = self._write_file(Path(output), records, full_mobiles=full_mobiles)
            where = output
        else:
            # Each CSV row ends in a line break, so OutputWrapper adds no ending of its own.
            count = self._write(self.stdout, records, full_mobiles=full_mobiles)
            where = "standard output"
        # Who took which station's numbers out, and whether in full: one audit entry per export.
        audit.record(
            actor=Actor.command(),
            action=AuditAction.STATION_EXPORT,
            target=("station", station),
            before=None,
            after={
                "from": first.isoformat(),
                "to": last.isoformat(),
                "records": count,
                "full_mobiles": full_mobiles,
                "output": where,
            },
        )
        self.stderr.write(f"{count} record(s) of station {station} from {first} to {last} written to {where}")

    def _write(self, out: IO[str], records: Iterable[dict[str, Any]], *, full_mobiles: bool) -> int:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        count = 0
        for row in csv_rows(records, full_mobiles=full_mobiles):
            writer.writerow(row)
            count += 1
        return count

    def _write_file(self, path: Path, records: Iterable[dict[str, Any]], *, full_mobiles: bool) -> int:
        """Write beside the file and rename it at the end: a failed export leaves no half file.
        UTF-8 with a byte-order mark, so spreadsheets read the Chinese texts right."""
        partial = path.with_name(path.name + ".part")
        try:
            with partial.open("w", newline="", encoding="utf-8-sig") as out:
                count = self._write(out, records, full_mobiles=full_mobiles)
            os.replace(partial, path)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise CommandError(f"cannot write {path}: {exc}") from exc
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return count
