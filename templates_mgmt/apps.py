from django.apps import AppConfig


class TemplatesMgmtConfig(AppConfig):
    name = "templates_mgmt"
    verbose_name = "Templates"
