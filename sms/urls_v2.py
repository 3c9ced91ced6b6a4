from django.urls import path

from sms import platform_views

urlpatterns = [path("charge", platform_views.ChargeView.as_view(), name="v2-charge")]
