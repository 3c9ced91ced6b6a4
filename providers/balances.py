"""Provider package balances, cached so the statistics page never waits on a provider. A cache
that is down is no cached balance (the provider is asked, the answer not kept), never an error."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache

from providers.base import ProviderBalance, ProviderError
from providers.registry import get_adapter

logger = logging.getLogger(__name__)


def _key(provider: str) -> str:
    return f"provider-balance:{provider}"


def _last_key(provider: str) -> str:
    return f"provider-balance-last:{provider}"


def _cache_get(key: str) -> Any:
    try:
        return cache.get(key)
    except Exception as exc:  # noqa: BLE001 - a cache that is down holds nothing
        logger.warning("balance cache unavailable: %s", type(exc).__name__)
        return None


def _cache_set(key: str, value: Any, timeout: int | None) -> None:
    try:
        cache.set(key, value, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - the balance is in hand; the next refresh keeps it
        logger.warning("balance cache unavailable: %s", type(exc).__name__)


def refresh_balance(provider: str, *, timeout: float | None = None) -> ProviderBalance | None:
    """Ask the provider for its balance and cache it (amount and unit); None (logged) when it
    cannot answer."""
    try:
        balance = get_adapter(provider, timeout=timeout).balance()
    except (ProviderError, NotImplementedError) as exc:
        logger.warning("balance of %s unavailable: %s", provider, exc)
        return None
    value = {"remaining": balance.remaining, "unit": balance.unit}
    _cache_set(_key(provider), value, settings.PROVIDER_BALANCE_CACHE_SECONDS)
    _cache_set(_last_key(provider), value, None)  # kept for when the provider cannot say
    return balance


def cached_balance(provider: str) -> ProviderBalance | None:
    """The provider's balance as last cached, with its unit (``messages``, or ``money`` for
    providers that count money); never asks the provider."""
    cached = _cache_get(_key(provider))
    if not isinstance(cached, dict):
        return None
    return ProviderBalance(provider=provider, remaining=int(cached["remaining"]), unit=str(cached["unit"]))


def package_balance(provider: str) -> int | None:
    """The provider's remaining amount from the cache; on a cold cache one quick request
    (``PROVIDER_BALANCE_TIMEOUT``). None when the provider cannot say."""
    balance = cached_balance(provider) or refresh_balance(provider, timeout=settings.PROVIDER_BALANCE_TIMEOUT)
    return None if balance is None else balance.remaining


def last_known_balance(provider: str) -> int:
    """The provider's remaining amount for a field the seed types as an integer (``gm_balance``,
    ``M Int``): fresh when it can be had (``package_balance``), else the last amount the provider
    ever answered, else 0 (before its first answer)."""
    remaining = package_balance(provider)
    if remaining is not None:
        return remaining
    last = _cache_get(_last_key(provider))
    return int(last["remaining"]) if isinstance(last, dict) else 0
