"""Which adapter class serves which provider name. Adding a provider: one module, one line here."""

from __future__ import annotations

from django.utils.module_loading import import_string

from providers.base import ProviderAdapter

ADAPTERS: dict[str, str] = {
    "tencent": "providers.tencent.TencentAdapter",
    "gateway": "providers.gateway.GatewayAdapter",
    "fw199": "providers.fw199.Fw199Adapter",
    "sjroom": "providers.sjroom.SjroomAdapter",
}


class UnknownProvider(LookupError):
    pass


def adapter_class(name: str) -> type[ProviderAdapter]:
    try:
        return import_string(ADAPTERS[name])
    except KeyError as exc:
        raise UnknownProvider(f"no SMS provider named {name!r}; known: {', '.join(ADAPTERS)}") from exc


def get_adapter(name: str, *, timeout: float | None = None) -> ProviderAdapter:
    """A fresh adapter for ``name`` configured from ``SMS_PROVIDERS`` (cheap: the HTTP session is
    shared); ``timeout`` overrides its request timeout (a quick balance check)."""
    return adapter_class(name)(timeout=timeout)
