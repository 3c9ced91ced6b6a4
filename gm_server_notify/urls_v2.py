"""The root-only ``v2/*`` API of seed 001."""

from django.urls import include, path

urlpatterns = [
    path("", include("signatures.urls_v2")),
    path("", include("templates_mgmt.urls_v2")),
    path("", include("sms.tenant_api.urls_v2")),
]
