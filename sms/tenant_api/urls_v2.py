from django.urls import path

from sms.tenant_api import views

urlpatterns = [path("charge", views.ChargeView.as_view(), name="v2-charge")]
