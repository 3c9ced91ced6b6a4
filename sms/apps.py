from django.apps import AppConfig


class SmsConfig(AppConfig):
    name = "sms"

    def ready(self) -> None:
        from gm_server_notify.metrics import register_collector
        from sms import checks  # noqa: F401 - registers the routing checks
        from sms.metrics import RecordStateCollector

        register_collector(RecordStateCollector())
