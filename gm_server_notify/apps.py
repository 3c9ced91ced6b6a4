from django.apps import AppConfig


class GmServerNotifyConfig(AppConfig):
    """The project package as an app, for its management commands, tasks and templates."""

    name = "gm_server_notify"
    verbose_name = "Service core"

    def ready(self) -> None:
        from django.contrib import admin
        from django.contrib.auth.signals import user_login_failed

        # Registers the OpenAPI extensions for the project's authentication classes.
        from gm_server_notify.api import schema  # noqa: F401
        from gm_server_notify.api.auth import configured_clients
        from gm_server_notify.lockout import SerialisedAdminAuthenticationForm, on_user_login_failed

        # A misconfigured SMS_SERVICE_CLIENTS stops the process at start-up, not at the first call.
        configured_clients()
        # Every failed login (API and admin) is logged and counted.
        user_login_failed.connect(on_user_login_failed, dispatch_uid="gm_server_notify.login_failed")
        # The admin login checks passwords one at a time per username and address, like the API.
        admin.site.login_form = SerialisedAdminAuthenticationForm
