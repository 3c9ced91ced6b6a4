"""/dashboard/api/*: the console's JSON (sms.console.api), staff only."""

from django.urls import path

from sms.console import api

urlpatterns = [
    path("summary", api.summary, name="console-api-summary"),
    path("series", api.series, name="console-api-series"),
    path("failures", api.failures, name="console-api-failures"),
    path("latency", api.latency, name="console-api-latency"),
    path("health", api.health, name="console-api-health"),
    path("money", api.money, name="console-api-money"),
    path("balances", api.balances, name="console-api-balances"),
    path("top", api.top, name="console-api-top"),
]
