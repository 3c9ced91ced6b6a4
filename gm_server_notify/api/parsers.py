"""The request body parser of both API families: strict JSON (``gm_server_notify.strict_json``),
so ``NaN``, lone surrogates or a body nested a hundred thousand deep is the family's "not JSON"
error, never an HTTP 500."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from gm_server_notify.strict_json import strict_json


class StrictJSONParser(JSONParser):
    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return strict_json(stream.read().decode(encoding))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
