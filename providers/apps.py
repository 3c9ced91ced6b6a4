from django.apps import AppConfig
from django.conf import settings


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "Providers"

    def ready(self) -> None:
        from providers import fw199

        # At start-up of every process (web, workers, beat, manage.py): a malformed FW199_TEMPLATES
        # stops it here, naming what is wrong, rather than failing Douyin messages one by one.
        fw199.check_templates(settings.SMS_PROVIDERS.get("fw199", {}).get("templates", {}))
