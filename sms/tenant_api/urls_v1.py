from django.urls import path

from sms.tenant_api import views

urlpatterns = [
    path("message", views.MessageView.as_view(), name="v1-message"),
    path("message/estimate", views.MessageEstimateView.as_view(), name="v1-message-estimate"),
    path("limits", views.LimitsView.as_view(), name="v1-limits"),
    path("balance", views.TenantBalanceView.as_view(), name="v1-balance"),
    path("uplink", views.UplinkView.as_view(), name="v1-uplink"),
    path("test/uplink", views.TestUplinkView.as_view(), name="v1-test-uplink"),
    path("blocklist", views.BlocklistView.as_view(), name="v1-blocklist"),
    path("callback", views.CallbackView.as_view(), name="v1-callback"),
    path("callback/deliveries", views.CallbackDeliveriesView.as_view(), name="v1-callback-deliveries"),
]
