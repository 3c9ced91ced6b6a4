from django.urls import path

from sms import tenant_views

urlpatterns = [
    path("message", tenant_views.MessageView.as_view(), name="v1-message"),
    path("balance", tenant_views.TenantBalanceView.as_view(), name="v1-balance"),
    path("uplink", tenant_views.UplinkView.as_view(), name="v1-uplink"),
    path("blocklist", tenant_views.BlocklistView.as_view(), name="v1-blocklist"),
    path("callback", tenant_views.CallbackView.as_view(), name="v1-callback"),
    path("callback/deliveries", tenant_views.CallbackDeliveriesView.as_view(), name="v1-callback-deliveries"),
]
