"""Seed 000's /sms/* paths, word for word, no trailing slash, and ``uplink/get`` (added beyond the
seed). ``/sms/callback``, the gateway's push, is a provider push: ``sms.pushes.urls``."""

from django.urls import path

from sms.station_api import views

urlpatterns = [
    path("send/add", views.SmsSendAddView.as_view(), name="sms-send-add"),
    path("send/start", views.SmsSendStartView.as_view(), name="sms-send-start"),
    path("combo/get", views.ComboGetView.as_view(), name="sms-combo-get"),
    path("balance/get", views.BalanceGetView.as_view(), name="sms-balance-get"),
    path("data_center/get", views.DataCenterGetView.as_view(), name="sms-data-center-get"),
    path("recharge_record/get", views.RechargeRecordGetView.as_view(), name="sms-recharge-record-get"),
    path(
        "recharge_record/create", views.RechargeRecordCreateView.as_view(), name="sms-recharge-record-create"
    ),
    path("send_record/get", views.SendRecordGetView.as_view(), name="sms-send-record-get"),
    path(
        "statistics_overview/get",
        views.StatisticsOverviewGetView.as_view(),
        name="sms-statistics-overview-get",
    ),
    path("statistics_detail/get", views.StatisticsDetailGetView.as_view(), name="sms-statistics-detail-get"),
    path("uplink/get", views.UplinkGetView.as_view(), name="sms-uplink-get"),
]
