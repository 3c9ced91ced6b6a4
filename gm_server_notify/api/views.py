"""Base views of the two API families: authentication, permissions and error body in one place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from gm_server_notify.api.auth import (
    HasServiceScope,
    IsRoot,
    IsTenant,
    LiveForChanges,
    ServiceTokenAuthentication,
    TenantBasicAuthentication,
    TestCredentialsOnly,
)
from gm_server_notify.api.envelope import station_exception_handler
from gm_server_notify.api.errors import platform_exception_handler

ExceptionHandler = Callable[[Exception, dict[str, Any]], Response]


def parse(serializer_class: type[serializers.Serializer], data: object) -> dict[str, Any]:
    """Validate ``data`` with ``serializer_class``; a failure becomes the family's parameter error."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class StationAPIView(APIView):
    """A ``/sms/*`` view: bearer service token, ``{code, msg, data}`` for every answer.

    ``required_scope`` is the scope the caller's client needs (``send``, ``recharge``, ``read``;
    see gm_server_notify.api.auth): a client without it gets 403, code 1012. Left unset, a GET
    needs ``read`` and any other method is refused to every client."""

    authentication_classes = [ServiceTokenAuthentication]
    permission_classes = [HasServiceScope]
    required_scope: str | None = None

    def get_exception_handler(self) -> ExceptionHandler:
        return station_exception_handler


class PlatformAPIView(APIView):
    """A ``v1/*`` view: HTTP Basic tenant (or root), ``{error, message}`` for every failure. With
    the test password only reads, and the writes of a view that sets ``test_mode_writes``."""

    authentication_classes = [TenantBasicAuthentication]
    permission_classes = [IsTenant, LiveForChanges]
    # True where a write runs in test mode too (v1/message); test credentials are refused other writes.
    test_mode_writes = False

    def get_exception_handler(self) -> ExceptionHandler:
        return platform_exception_handler


class RootAPIView(PlatformAPIView):
    """A ``v2/*`` view: only root (a superuser) with its live password; a tenant, or any test
    password, gets ``ER:0003``."""

    permission_classes = [IsRoot]


class TestModeAPIView(PlatformAPIView):
    """A ``v1/test/*`` view: only a tenant's test password; the live one gets ``ER:0044``."""

    permission_classes = [IsTenant, TestCredentialsOnly]
    test_mode_writes = True
