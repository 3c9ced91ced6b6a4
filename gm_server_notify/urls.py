"""Root URL configuration. Paths are the seeds', with no trailing slash."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from gm_server_notify.health import healthz, readyz
from gm_server_notify.metrics import metrics_view
from sms.alerts import views as alerts
from sms.console.views import billing_reconciliation, dashboard

urlpatterns = [
    path("sms/", include("sms.urls")),
    path("v1/", include("gm_server_notify.urls_v1")),
    path("v2/", include("gm_server_notify.urls_v2")),
    path("providers/", include("sms.pushes.urls")),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("dashboard", dashboard, name="dashboard"),
    path("dashboard/api/", include("sms.console.urls")),
    path("dashboard/reconciliation", billing_reconciliation, name="billing-reconciliation"),
    path("dashboard/alerts", alerts.alerts_page, name="alerts"),
    path("dashboard/alerts/<int:alert_id>/ack", alerts.acknowledge_page, name="alert-acknowledge"),
    path("dashboard/api/alerts", alerts.alerts_api, name="alerts-api"),
    path("dashboard/api/alerts/<int:alert_id>/ack", alerts.acknowledge_api, name="alerts-api-ack"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
]

handler400 = "gm_server_notify.api.errors.handler400"
handler404 = "gm_server_notify.api.errors.handler404"
handler500 = "gm_server_notify.api.errors.handler500"
