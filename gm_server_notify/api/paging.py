"""The seed's ``page_obj`` / ``reverse`` / ``limit`` paging, as one keyset pager.

- ``limit``: rows per page, default 10, at most 100.
- ``reverse``: false lists in the endpoint's natural order (newest first), true in the opposite
  order (oldest first).
- ``page_obj``: an opaque, signed cursor. Leave it out for the first page; pass back the
  ``pagination.page_obj`` of the previous answer (with the same ``reverse``) for the next one.

Answers carry ``pagination: {page_obj, more}`` beside ``data``; ``more`` is false on the last
page, where ``page_obj`` is null. Keyset paging reads an index range, so page 1000 costs what
page 1 costs, and rows inserted meanwhile never shift a page.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Model, Q, QuerySet
from rest_framework import serializers

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
_SALT = "gm_server_notify.page_obj"


class PageRequestSerializer(serializers.Serializer):
    """Parses the three paging parameters; mix into an endpoint's query serializer."""

    page_obj = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="分页对象: leave it out for the first page, then pass back the previous answer's "
        "`pagination.page_obj` (with the same `reverse`)",
    )
    reverse = serializers.BooleanField(
        required=False,
        default=False,
        help_text="是否反向查询: false lists newest first (stations: by station id), true the opposite order",
    )
    limit = serializers.IntegerField(
        required=False,
        default=DEFAULT_LIMIT,
        min_value=1,
        max_value=MAX_LIMIT,
        help_text=f"返回条数: rows per page, 1 to {MAX_LIMIT}",
    )


@dataclass(frozen=True)
class PageRequest:
    page_obj: str = ""
    reverse: bool = False
    limit: int = DEFAULT_LIMIT

    @classmethod
    def from_validated(cls, data: dict[str, Any]) -> PageRequest:
        return cls(
            page_obj=data.get("page_obj") or "",
            reverse=bool(data.get("reverse")),
            limit=data.get("limit") or DEFAULT_LIMIT,
        )


@dataclass
class Page:
    items: list[Any]
    page_obj: str | None
    more: bool

    @property
    def pagination(self) -> dict[str, Any]:
        return {"page_obj": self.page_obj, "more": self.more}


def _flip(name: str) -> str:
    return name[1:] if name.startswith("-") else f"-{name}"


def _encode(values: list[Any], reverse: bool) -> str:
    return signing.dumps({"v": values, "r": reverse}, salt=_SALT, serializer=_JSONSerializer, compress=True)


class _CursorEncoder(DjangoJSONEncoder):
    """Keeps full microseconds: DjangoJSONEncoder rounds datetimes to milliseconds."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime.datetime | datetime.date | datetime.time):
            return o.isoformat()
        return super().default(o)


class _JSONSerializer:
    def dumps(self, obj: Any) -> bytes:
        return json.dumps(obj, cls=_CursorEncoder, separators=(",", ":")).encode("latin-1")

    def loads(self, data: bytes) -> Any:
        return json.loads(data.decode("latin-1"))


def _invalid(message: str) -> serializers.ValidationError:
    return serializers.ValidationError({"page_obj": [message]})


def _decode(page_obj: str, model: type[Model], ordering: Sequence[str], reverse: bool) -> list[Any]:
    try:
        payload = signing.loads(page_obj, salt=_SALT, serializer=_JSONSerializer)
    except signing.BadSignature as exc:
        raise _invalid("page_obj is not a cursor returned by this endpoint") from exc
    if not isinstance(payload, dict) or len(payload.get("v", ())) != len(ordering):
        raise _invalid("page_obj does not belong to this list")
    if bool(payload.get("r")) != reverse:
        raise _invalid("page_obj was returned for the other reverse value")
    values = []
    for name, raw in zip(ordering, payload["v"], strict=True):
        model_field = model._meta.get_field(name.lstrip("-"))
        try:
            values.append(None if raw is None else model_field.to_python(raw))
        except Exception as exc:
            raise _invalid("page_obj does not belong to this list") from exc
    return values


def _after(ordering: Sequence[str], values: Sequence[Any]) -> Q:
    """Rows strictly after ``values`` in ``ordering``: (a > x) | (a = x & b > y) | …"""
    condition = Q()
    for index, name in enumerate(ordering):
        column = name.lstrip("-")
        lookup = "lt" if name.startswith("-") else "gt"
        step = Q(**{f"{column}__{lookup}": values[index]})
        for prev_name, prev_value in zip(ordering[:index], values[:index], strict=True):
            step &= Q(**{prev_name.lstrip("-"): prev_value})
        condition |= step
    return condition


def keyset_page(queryset: QuerySet, *, ordering: Sequence[str], page: PageRequest) -> Page:
    """One page of ``queryset`` in ``ordering`` (reversed when ``page.reverse``).

    The last ordering field must be unique (normally ``-id``) so the order is total.
    """
    effective = [_flip(name) for name in ordering] if page.reverse else list(ordering)
    query = queryset.order_by(*effective)
    if page.page_obj:
        values = _decode(page.page_obj, queryset.model, effective, page.reverse)
        query = query.filter(_after(effective, values))
    rows = list(query[: page.limit + 1])
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_obj = None
    if more:
        last = rows[-1]
        next_obj = _encode([getattr(last, name.lstrip("-")) for name in effective], page.reverse)
    return Page(items=rows, page_obj=next_obj, more=more)


# --- seed 001's list shape: {items, total, page, page_size} -----------------------------------

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class OffsetPageSerializer(serializers.Serializer):
    """``page`` (from 1) and ``page_size`` (1..100, default 20) of the v1 lists."""

    page = serializers.IntegerField(
        required=False, default=1, min_value=1, max_value=100_000, help_text="the page, from 1"
    )
    page_size = serializers.IntegerField(
        required=False,
        default=DEFAULT_PAGE_SIZE,
        min_value=1,
        max_value=MAX_PAGE_SIZE,
        help_text=f"rows per page, 1 to {MAX_PAGE_SIZE}",
    )


def offset_page(queryset: QuerySet, *, page: int, page_size: int) -> tuple[list[Any], int]:
    """One page of an already ordered queryset, and the total count."""
    start = (page - 1) * page_size
    return list(queryset[start : start + page_size]), queryset.count()


def offset_list(queryset: QuerySet, *, item: type[serializers.Serializer], query: dict[str, Any]) -> dict:
    """The ``{items, total, page, page_size}`` answer of a v1 list: the page ``query`` (an
    ``OffsetPageSerializer``'s data) asks for of an already ordered ``queryset``, each row shown
    by ``item``."""
    items, total = offset_page(queryset, page=query["page"], page_size=query["page_size"])
    return {
        "items": item(items, many=True).data,
        "total": total,
        "page": query["page"],
        "page_size": query["page_size"],
    }


def offset_list_schema(name: str, item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema component ``name`` of a v1 list of ``item`` (what ``offset_list`` answers)."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "items": item(many=True, help_text="this page's rows, newest first"),
            "total": serializers.IntegerField(help_text="rows in the whole list"),
            "page": serializers.IntegerField(help_text="the page answered, from 1"),
            "page_size": serializers.IntegerField(help_text="rows per page, as asked"),
            "__module__": item.__module__,
        },
    )
