"""Fuzzing every API family with schemathesis against the live service.

schemathesis (the maintained OpenAPI fuzzer) reads the service's own schema (``/api/schema``) and
sends what it allows and what it does not, checking that no answer is a server error and that
every answer matches the schema: its status code is documented, its content type and its body
conform. The CLI runs as a subprocess against pytest-django's live server (rather than through
schemathesis' pytest integration) so that the run is the same one ``make fuzz`` and an operator
would start, with the whole report printed when it fails.

Each family is fuzzed with its own credentials and data it can reach (a recharged station, a
tenant with a passed signature and template and a balance, root, and the tenant's test password:
test mode, docs/api-platform.md), so generated requests get past authentication into the business
logic. Fixed seed, deterministic generation and a bounded number
of examples in ``make test`` (``FUZZ_MAX_EXAMPLES``, ``FUZZ_MAX_SECONDS`` per family); ``make
fuzz`` runs the long version.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.factories import TEST_PASSWORD, UserFactory
from tests.support.platform import make_signature, make_template
from tests.support.waiting import scaled
from tests.support.worker import purge_broker

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db(transaction=True)]

BIN = Path(sys.executable).parent
MAX_EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "20")
MAX_SECONDS = os.environ.get("FUZZ_MAX_SECONDS", "40")
SEED = os.environ.get("FUZZ_SEED", "20261125")
TEST_MODE_PASSWORD = "test-mode-password"
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance"

FAMILIES = {
    # name: (paths, credentials in schemathesis.toml)
    "station": (r"^/sms/(?!callback)", 'headers = { Authorization = "Bearer test-service-token" }'),
    "tenant": (r"^/v1/", f'[auth]\nbasic = {{ username = "dcs", password = "{TEST_PASSWORD}" }}'),
    "root": (r"^/v2/", f'[auth]\nbasic = {{ username = "root", password = "{TEST_PASSWORD}" }}'),
    # The tenant in test mode: every v1 route (v1/test/uplink answers only it).
    "tenant-test": (r"^/v1/", f'[auth]\nbasic = {{ username = "dcs", password = "{TEST_MODE_PASSWORD}" }}'),
    "callbacks": (r"^/sms/callback$|^/providers/", '[parameters]\n"query.token" = "test-callback-token"'),
}


@pytest.fixture
def fuzz_data(recharge):
    """Data each family can reach: a station with balance, a tenant ready to send, root."""
    recharge("T7442", 100_000)
    tenant = UserFactory(username="dcs")
    UserFactory(username="root", is_superuser=True, is_staff=True)
    sign = make_signature(tenant)
    make_template(tenant, sign)
    from sms.tenant_api.services import charge_tenant

    charge_tenant(username="dcs", charge=100_000)
    from sms.tenant_api.credentials import set_test_password

    set_test_password(username="dcs", password=TEST_MODE_PASSWORD)
    yield
    purge_broker()  # dispatch tasks the fuzzer's sends published: no worker runs here


@pytest.mark.parametrize("family", list(FAMILIES))
def test_fuzzing_finds_no_server_error_and_no_answer_outside_the_schema(
    live_server, fuzz_data, tmp_path, family
):
    paths, credentials = FAMILIES[family]
    config = tmp_path / "schemathesis.toml"
    config.write_text(f"{credentials}\n")
    command = [
        str(BIN / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{live_server.url}/api/schema",
        "--checks",
        CHECKS,
        "--include-path-regex",
        paths,
        "--max-examples",
        MAX_EXAMPLES,
        "--max-time",
        MAX_SECONDS,
        "--seed",
        SEED,
        "--generation-deterministic",
        "--request-timeout",
        "60",
        "--workers",
        "1",
        "--suppress-health-check",
        "all",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=scaled(int(MAX_SECONDS) * 3 + 120))
    report = run.stdout[-20000:] + run.stderr[-5000:]
    print(run.stdout[-2500:])  # the summary: operations, test cases, checks (shown with -s)
    assert run.returncode == 0, report
