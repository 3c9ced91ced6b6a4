"""Provider pushes: ``/providers/<name>/status`` and ``/providers/<name>/uplink``."""

from django.urls import path

from sms import callbacks

urlpatterns = [
    path(
        "<str:name>/status", callbacks.ProviderStatusCallbackView.as_view(), name="provider-status-callback"
    ),
    path(
        "<str:name>/uplink", callbacks.ProviderUplinkCallbackView.as_view(), name="provider-uplink-callback"
    ),
]
