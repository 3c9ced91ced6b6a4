"""The real URL configuration plus ``/metrics`` (the line the root urlconf carries)."""

from django.urls import path

from gm_server_notify.metrics import metrics_view
from gm_server_notify.urls import handler400, handler404, handler500  # noqa: F401
from gm_server_notify.urls import urlpatterns as root_patterns

urlpatterns = [*root_patterns, path("metrics", metrics_view, name="metrics")]
