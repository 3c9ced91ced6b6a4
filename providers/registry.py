"""Which adapter class serves which provider name. ``SMS_PROVIDERS`` (gm_server_notify/settings/
providers.py) is the one list of providers: each entry names its adapter class (``adapter``) beside
its endpoint, credentials and limits. Adding a provider: one adapter module, one entry there."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from providers.base import ProviderAdapter


class UnknownProvider(LookupError):
    pass


def known_providers() -> list[str]:
    """Every provider's name, in the order ``SMS_PROVIDERS`` lists them."""
    return list(settings.SMS_PROVIDERS)


def adapter_class(name: str) -> type[ProviderAdapter]:
    entry = settings.SMS_PROVIDERS.get(name)
    if entry is None:
        raise UnknownProvider(f"no SMS provider named {name!r}; known: {', '.join(known_providers())}")
    return import_string(entry["adapter"])


def get_adapter(name: str, *, timeout: float | None = None) -> ProviderAdapter:
    """A fresh adapter for ``name`` configured from ``SMS_PROVIDERS`` (cheap: the HTTP session is
    shared); ``timeout`` overrides its request timeout (a quick balance check)."""
    return adapter_class(name)(timeout=timeout)
