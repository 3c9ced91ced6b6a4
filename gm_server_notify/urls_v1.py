"""The tenant ``v1/*`` API of seed 001 (HTTP Basic)."""

from django.urls import include, path

urlpatterns = [
    path("", include("signatures.urls_v1")),
    path("", include("templates_mgmt.urls_v1")),
    path("", include("sms.tenant_api.urls_v1")),
]
