from django.urls import path

from sms import tenant_views

urlpatterns = [path("charge", tenant_views.ChargeView.as_view(), name="v2-charge")]
