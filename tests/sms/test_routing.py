"""Routing and failover per region, unit by unit: ``next_provider`` for each pair of batch and
provider, ``BatchNeeds``, and the routing system check (sms/sending/routing.py, sms/sending/checks.py).

An international number is never handed to a domestic provider, tenant free text never to a
template-only provider, a station message never to a template provider without a template for
its business type, whatever the failover chains say; settings that ask for it fail
`manage.py check`. The same rules through the pipeline and a real worker:
test_failover_per_region.py.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from providers.base import Region
from sms.models import SendRecord
from sms.sending import checks
from sms.sending.routing import BatchNeeds, next_provider
from tests.sms.test_failover_per_region import (
    MAINLAND_MOBILE,
    UK_MOBILE,
    station_record,
    tenant_record,
    tencent_templates,
)
from tests.support.waiting import scaled

# Every provider, to show that a chain naming the wrong ones still never reaches them.
EVERY_PROVIDER = ["tencent", "gateway", "fw199", "sjroom"]


def needs(*records: SendRecord) -> BatchNeeds:
    return BatchNeeds.of(records)


# --- next_provider, pair by pair --------------------------------------------------------------


def test_international_batch_failing_on_sjroom_has_no_fallback_with_the_default_chains():
    for record in (station_record(UK_MOBILE), tenant_record(UK_MOBILE)):
        assert next_provider("sjroom", [], needs=needs(record)) is None


def test_international_batch_never_goes_to_a_domestic_provider_even_when_its_chain_names_them(settings):
    settings.SMS_FAILOVER_INTERNATIONAL = ["sjroom", "gateway", "tencent", "fw199"]
    settings.SMS_FAILOVER_MAINLAND = EVERY_PROVIDER
    for record in (station_record(UK_MOBILE), tenant_record(UK_MOBILE)):
        assert next_provider("sjroom", [], needs=needs(record)) is None


def test_mainland_station_batch_on_tencent_fails_over_to_the_gateway():
    assert next_provider("tencent", [], needs=needs(station_record(business_type=0))) == "gateway"


def test_mainland_batch_never_fails_over_to_the_international_provider(settings):
    settings.SMS_FAILOVER_MAINLAND = ["gateway", "sjroom"]
    assert next_provider("gateway", [], needs=needs(tenant_record())) is None
    assert next_provider("gateway", [], needs=needs(station_record())) is None


def test_station_business_type_without_a_template_at_the_fallback_is_not_sent_there(settings):
    settings.SMS_FAILOVER_MAINLAND = ["gateway", "tencent"]
    tencent_templates(settings, {"0": "1001"})  # no template for registrations (2)
    assert next_provider("gateway", [], needs=needs(station_record(business_type=0))) == "tencent"
    assert next_provider("gateway", [], needs=needs(station_record(business_type=2))) is None
    # A batch is looked at as a whole: one record the fallback cannot carry keeps it all away.
    mixed = needs(station_record(business_type=0), station_record(business_type=2))
    assert next_provider("gateway", [], needs=mixed) is None


def test_fw199_has_no_station_templates_so_station_batches_skip_it(settings):
    settings.SMS_FAILOVER_MAINLAND = ["tencent", "fw199", "gateway"]
    assert next_provider("tencent", [], needs=needs(station_record(business_type=1))) == "gateway"


def test_tenant_text_never_goes_to_tencent_or_fw199(settings):
    settings.SMS_FAILOVER_MAINLAND = ["gateway", "tencent", "fw199"]
    assert next_provider("gateway", [], needs=needs(tenant_record())) is None
    # Station and tenant records in one batch: the free text decides for the batch.
    mixed = needs(station_record(business_type=0), tenant_record())
    assert next_provider("gateway", [], needs=mixed) is None


def test_failover_follows_the_chain_order_and_skips_what_was_tried(settings):
    settings.SMS_FAILOVER_MAINLAND = ["gateway", "tencent", "fw199", "sjroom"]
    station = needs(station_record(business_type=0))
    assert next_provider("gateway", [], needs=station) == "tencent"
    assert next_provider("gateway", ["tencent"], needs=station) is None


def test_a_batch_spanning_both_regions_goes_only_where_every_record_may_go(settings):
    settings.SMS_FAILOVER_MAINLAND = EVERY_PROVIDER
    settings.SMS_FAILOVER_INTERNATIONAL = EVERY_PROVIDER
    both = needs(tenant_record(MAINLAND_MOBILE), tenant_record(UK_MOBILE))
    assert both.regions == {Region.MAINLAND, Region.INTERNATIONAL}
    assert next_provider("tencent", [], needs=both) is None


# --- the system check -------------------------------------------------------------------------


def errors(messages) -> set[str]:
    return {message.id for message in messages}


def test_the_default_settings_pass_the_routing_check():
    assert checks.check_routing() == []


def test_an_international_chain_naming_the_gateway_is_refused_by_the_check(settings):
    settings.SMS_FAILOVER_INTERNATIONAL = ["sjroom", "gateway"]
    messages = checks.check_routing()
    assert errors(messages) == {"sms.E003"}
    assert "SMS_FAILOVER_INTERNATIONAL" in messages[0].msg and "gateway" in messages[0].msg


def test_a_mainland_chain_naming_sjroom_is_refused(settings):
    settings.SMS_FAILOVER_MAINLAND = ["tencent", "gateway", "sjroom"]
    assert errors(checks.check_routing()) == {"sms.E003"}


@pytest.mark.parametrize(
    ("setting", "provider"),
    [
        ("SMS_INTERNATIONAL_PROVIDER", "gateway"),  # a domestic provider for +44
        ("SMS_INTERNATIONAL_PROVIDER", "tencent"),
        ("SMS_STATION_PROVIDER", "sjroom"),  # the international gateway for +86
        ("SMS_TENANT_PROVIDER", "tencent"),  # tenant free text to a template-only provider
        ("SMS_TENANT_PROVIDER", "fw199"),
        ("SMS_DOUYIN_PROVIDER", "sjroom"),
    ],
)
def test_a_first_provider_outside_its_region_or_kind_is_refused(settings, setting, provider):
    setattr(settings, setting, provider)
    assert errors(checks.check_routing()) == {"sms.E002"}


def test_an_unknown_provider_is_refused(settings):
    settings.SMS_FAILOVER_MAINLAND = ["tencent", "twilio"]
    assert errors(checks.check_routing()) == {"sms.E001"}


def test_a_station_provider_missing_a_station_template_is_a_warning(settings):
    tencent_templates(settings, {"0": "1001", "1": "1002"})
    messages = checks.check_routing()
    assert errors(messages) == {"sms.W001"} and "business type 2" in messages[0].msg


def test_the_deprecated_failover_setting_is_a_warning(settings):
    settings.SMS_FAILOVER = ["tencent", "gateway"]
    assert errors(checks.check_routing()) == {"sms.W002"}


def test_the_deprecated_default_provider_setting_is_a_warning(settings):
    settings.SMS_DEFAULT_PROVIDER = "tencent"
    assert errors(checks.check_routing()) == {"sms.W003"}


def _station_provider_in_a_fresh_process(**env: str) -> str:
    code = "from gm_server_notify import settings as s; print(s.SMS_STATION_PROVIDER)"
    environment = {
        k: v for k, v in os.environ.items() if k not in ("SMS_STATION_PROVIDER", "SMS_DEFAULT_PROVIDER")
    }
    environment.update(GM_EMBEDDED_DEFAULTS="1", **env)
    answer = subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=scaled(60),
    )
    return answer.stdout.strip().splitlines()[-1]


def test_sms_default_provider_is_the_station_providers_old_name():
    assert _station_provider_in_a_fresh_process() == "tencent"
    assert _station_provider_in_a_fresh_process(SMS_DEFAULT_PROVIDER="gateway") == "gateway"
    assert _station_provider_in_a_fresh_process(
        SMS_DEFAULT_PROVIDER="gateway", SMS_STATION_PROVIDER="tencent"
    ) == ("tencent")
