from django.urls import path

from providers import views

urlpatterns = [
    path("<str:name>/status", views.ProviderStatusCallbackView.as_view(), name="provider-status-callback"),
    path("<str:name>/uplink", views.ProviderUplinkCallbackView.as_view(), name="provider-uplink-callback"),
]
