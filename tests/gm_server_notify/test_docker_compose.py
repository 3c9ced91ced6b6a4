"""docker-compose.yml: the full stack, health-checked, and never pointed at a real vendor."""

from pathlib import Path

import yaml

COMPOSE = yaml.safe_load((Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text())
PROVIDER_URLS = ("TENCENT_SMS_ENDPOINT", "GATEWAY_SMS_BASE_URL", "FW199_BASE_URL", "SJROOM_BASE_URL")


def test_compose_has_every_service_with_a_health_check():
    services = COMPOSE["services"]
    expected = {
        "mysql",
        "redis",
        "rabbitmq",
        "web",
        "intake",
        "priority",
        "worker",
        "bulk",
        "beat",
        "flower",
        "simulator",
    }
    assert expected <= set(services)
    for name in expected:
        assert "test" in services[name]["healthcheck"], name


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_compose_runs_a_worker_per_dispatch_lane_on_its_queues_and_checks_that_node():
    """As make run does (scripts/supervisord.conf): the priority lane's worker on sms_priority alone."""
    services = COMPOSE["services"]
    lanes = {
        "priority": ("sms_priority", "PRIORITY_WORKER_CONCURRENCY"),
        "worker": ("default,sms_transactional,sms_reports", "WORKER_CONCURRENCY"),
        "bulk": ("sms_bulk", "BULK_WORKER_CONCURRENCY"),
    }
    for name, (queues, concurrency) in lanes.items():
        command = services[name]["command"]
        assert _option(command, "--queues") == queues, name
        assert _option(command, "--concurrency") == f"${{{concurrency}:-2}}", name
        assert _option(command, "--hostname") == f"{name}@%h", name
        # The health check pings this container's node: <name>@ and the container's hostname.
        assert f"-d {name}@$$HOSTNAME" in services[name]["healthcheck"]["test"][1], name


def test_compose_provider_urls_default_to_the_simulator():
    environment = COMPOSE["x-app"]["environment"]
    for name in PROVIDER_URLS:
        assert environment[name] == f"${{{name}:-http://simulator:8100}}"


def test_compose_requires_secrets_instead_of_shipping_defaults():
    environment = COMPOSE["x-app"]["environment"]
    for name in ("DJANGO_SECRET_KEY", "SMS_SERVICE_TOKENS", "SMS_CALLBACK_TOKEN"):
        assert environment[name].startswith(f"${{{name}:?")


def test_compose_restarts_every_long_running_service_and_runs_one_beat():
    services = COMPOSE["services"]
    app_restart = COMPOSE["x-app"]["restart"]
    for name, service in services.items():
        if name == "migrate":
            continue  # one-shot
        assert service.get("restart", app_restart) in ("unless-stopped", "always"), name
    assert "replicas" not in services["beat"].get("deploy", {}), "beat must run exactly once"


def test_compose_redis_keeps_its_data_across_a_restart():
    command = COMPOSE["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"
