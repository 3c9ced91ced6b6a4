"""Provider package balances, cached so the statistics page never waits on a provider."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache

from providers.base import ProviderBalance, ProviderRequestRejected, ProviderUnavailable
from providers.registry import get_adapter

logger = logging.getLogger(__name__)


def _key(provider: str) -> str:
    return f"provider-balance:{provider}"


def refresh_balance(provider: str, *, timeout: float | None = None) -> ProviderBalance | None:
    """Ask the provider for its balance and cache it; None (logged) when it cannot answer."""
    adapter = get_adapter(provider)
    if timeout is not None:
        adapter.config["timeout"] = timeout
    try:
        balance = adapter.balance()
    except (ProviderUnavailable, ProviderRequestRejected, NotImplementedError) as exc:
        logger.warning("balance of %s unavailable: %s", provider, exc)
        return None
    cache.set(_key(provider), balance.remaining, timeout=settings.PROVIDER_BALANCE_CACHE_SECONDS)
    return balance


def cached_balance(provider: str) -> int | None:
    """The provider's balance as last cached (never asks the provider)."""
    cached = cache.get(_key(provider))
    return None if cached is None else int(cached)


def package_balance(provider: str) -> int | None:
    """The provider's remaining messages from the cache; on a cold cache one quick request
    (``PROVIDER_BALANCE_TIMEOUT``). None when the provider cannot say."""
    cached = cached_balance(provider)
    if cached is not None:
        return cached
    balance = refresh_balance(provider, timeout=settings.PROVIDER_BALANCE_TIMEOUT)
    return None if balance is None else balance.remaining
