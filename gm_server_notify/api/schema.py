"""OpenAPI pieces shared by both API families: auth schemes and envelope builders."""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers


class ServiceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "gm_server_notify.api.auth.ServiceTokenAuthentication"
    name = "ServiceToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer"}


class TenantBasicScheme(OpenApiAuthenticationExtension):
    target_class = "gm_server_notify.api.auth.TenantBasicAuthentication"
    name = "TenantBasic"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "basic"}


class PaginationSerializer(serializers.Serializer):
    page_obj = serializers.CharField(
        allow_null=True, help_text="pass back for the next page; null on the last"
    )
    more = serializers.BooleanField()


def station_envelope(
    name: str, data: serializers.Field | None = None, *, paged: bool = False
) -> serializers.Serializer:
    """The ``{code, msg, data}`` envelope around ``data`` for the schema."""
    fields: dict[str, serializers.Field] = {
        "code": serializers.IntegerField(help_text="0 = ok; non-zero names the failure"),
        "msg": serializers.CharField(),
        "data": data if data is not None else serializers.JSONField(allow_null=True, default=None),
    }
    if paged:
        fields["pagination"] = PaginationSerializer()
    return inline_serializer(name=name, fields=fields)


STATION_ERROR = station_envelope("StationError")

PLATFORM_ERROR = inline_serializer(
    name="PlatformError",
    fields={
        "error": serializers.CharField(help_text="ER:00xx"),
        "message": serializers.CharField(),
    },
)


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's, plus a request body on DELETE for views that take one (``DELETE
    v1/blocklist``: ``delete_takes_body = True``), which drf-spectacular leaves out by default. The
    body is in the schema, so the fuzzer sends it too."""

    def _get_request_body(self, direction: str = "request") -> Any:
        if self.method == "DELETE" and getattr(self.view, "delete_takes_body", False):
            self.method = "POST"
            try:
                return super()._get_request_body(direction)
            finally:
                self.method = "DELETE"
        return super()._get_request_body(direction)


class OkOut(serializers.Serializer):
    """The answer of a v1 request that only confirms: ``{"message": "ok"}``."""

    message = serializers.CharField(default="ok")
