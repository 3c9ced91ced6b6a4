from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        # The admin has autodiscovered every app's admin by now (django.contrib.admin is ready
        # first): swap axes' access-attempt admin for the audited one.
        from django.contrib import admin

        from audit import lockouts

        lockouts.install_admin(admin.site)
