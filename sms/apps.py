from django.apps import AppConfig


class SmsConfig(AppConfig):
    name = "sms"
    verbose_name = "SMS"

    def ready(self) -> None:
        from gm_server_notify.metrics import register_collector
        from sms.alerts import admin as alerts_admin  # noqa: F401 - the alerts' admin, read only
        from sms.alerts.metrics import AlertInputsCollector
        from sms.console import admin  # noqa: F401 - the operators' admin lives in its room
        from sms.console.metrics import LaneCollector
        from sms.core.metrics import RecordStateCollector
        from sms.sending import checks  # noqa: F401 - registers the routing checks

        register_collector(RecordStateCollector())
        register_collector(LaneCollector())
        register_collector(AlertInputsCollector())
