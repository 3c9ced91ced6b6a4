"""Provider pushes: ``/providers/<name>/status``, ``/providers/<name>/uplink`` and seed 000's
``/sms/callback`` (``sms_urlpatterns``, mounted under ``sms/`` beside the station API)."""

from django.urls import path

from sms.pushes import views as callbacks

urlpatterns = [
    path(
        "<str:name>/status", callbacks.ProviderStatusCallbackView.as_view(), name="provider-status-callback"
    ),
    path(
        "<str:name>/uplink", callbacks.ProviderUplinkCallbackView.as_view(), name="provider-uplink-callback"
    ),
]

sms_urlpatterns = [
    path("callback", callbacks.SmsCallbackView.as_view(), name="sms-callback"),
]
