from django.urls import path

from sms import platform_views

urlpatterns = [
    path("message", platform_views.MessageView.as_view(), name="v1-message"),
    path("balance", platform_views.TenantBalanceView.as_view(), name="v1-balance"),
]
