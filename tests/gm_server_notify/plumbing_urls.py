"""Views that exercise the shared API plumbing alone, mounted under the real prefixes."""

from django.contrib.auth import get_user_model
from django.urls import path
from rest_framework import serializers

from gm_server_notify.api.envelope import station_ok
from gm_server_notify.api.errors import PlatformAPIError, PlatformError
from gm_server_notify.api.paging import PageRequest, PageRequestSerializer, keyset_page
from gm_server_notify.api.views import PlatformAPIView, RootAPIView, StationAPIView
from gm_server_notify.errors import NotFound
from gm_server_notify.urls import handler404, handler500  # noqa: F401 - the real handlers


class EchoSerializer(serializers.Serializer):
    station_id = serializers.CharField()
    count = serializers.IntegerField(min_value=1)


class StationEchoView(StationAPIView):
    required_scope = "send"

    def post(self, request):
        serializer = EchoSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return station_ok(serializer.validated_data)

    def get(self, request):
        raise NotFound("task_id 5 does not exist")


class StationCrashView(StationAPIView):
    def get(self, request):
        raise RuntimeError("secret-internal-detail")


class UserPageView(StationAPIView):
    def get(self, request):
        params = PageRequestSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        page = keyset_page(
            get_user_model().objects.all(),
            ordering=("-date_joined", "-id"),
            page=PageRequest.from_validated(params.validated_data),
        )
        return station_ok([user.username for user in page.items], pagination=page.pagination)


class TenantEchoView(PlatformAPIView):
    def post(self, request):
        serializer = EchoSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return station_ok(serializer.validated_data)

    def delete(self, request):
        raise PlatformAPIError(PlatformError.DELETE_SIGN_FAIL)


class TenantCrashView(PlatformAPIView):
    def get(self, request):
        raise RuntimeError("secret-internal-detail")


class RootEchoView(RootAPIView):
    def post(self, request):
        return station_ok(request.data)


urlpatterns = [
    path("sms/echo", StationEchoView.as_view()),
    path("sms/crash", StationCrashView.as_view()),
    path("sms/users", UserPageView.as_view()),
    path("v1/echo", TenantEchoView.as_view()),
    path("v1/crash", TenantCrashView.as_view()),
    path("v2/echo", RootEchoView.as_view()),
]
