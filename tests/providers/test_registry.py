"""providers.registry: SMS_PROVIDERS is the one list of providers, each entry naming its adapter
(the four vendors', and test mode's sandbox)."""

from __future__ import annotations

import pytest

from providers.registry import UnknownProvider, adapter_class, get_adapter, known_providers


def test_every_provider_listed_in_the_settings_has_its_adapter():
    assert known_providers() == ["tencent", "gateway", "fw199", "sjroom", "sandbox"]
    for name in known_providers():
        assert adapter_class(name).name == name
        assert get_adapter(name).config["batch_limit"] > 0


def test_a_provider_not_in_the_settings_is_unknown(settings):
    settings.SMS_PROVIDERS = {
        name: entry for name, entry in settings.SMS_PROVIDERS.items() if name != "sjroom"
    }
    assert known_providers() == ["tencent", "gateway", "fw199", "sandbox"]
    with pytest.raises(
        UnknownProvider, match="no SMS provider named 'sjroom'; known: tencent, gateway, fw199, sandbox"
    ):
        adapter_class("sjroom")
