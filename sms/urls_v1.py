from django.urls import path

from sms import tenant_views

urlpatterns = [
    path("message", tenant_views.MessageView.as_view(), name="v1-message"),
    path("balance", tenant_views.TenantBalanceView.as_view(), name="v1-balance"),
    path("uplink", tenant_views.UplinkView.as_view(), name="v1-uplink"),
]
