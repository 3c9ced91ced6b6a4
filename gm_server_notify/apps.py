from django.apps import AppConfig


class GmServerNotifyConfig(AppConfig):
    """The project package as an app, for its management commands, tasks and templates."""

    name = "gm_server_notify"
    verbose_name = "gm_server_notify core"

    def ready(self) -> None:
        # Registers the OpenAPI extensions for the project's authentication classes.
        from gm_server_notify.api import schema  # noqa: F401
