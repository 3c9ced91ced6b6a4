"""docker-compose.yml: the full stack, health-checked, and never pointed at a real vendor."""

from pathlib import Path

import yaml

COMPOSE = yaml.safe_load((Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text())
PROVIDER_URLS = ("TENCENT_SMS_ENDPOINT", "GATEWAY_SMS_BASE_URL", "FW199_BASE_URL", "SJROOM_BASE_URL")


def test_compose_has_every_service_with_a_health_check():
    services = COMPOSE["services"]
    expected = {"mysql", "redis", "rabbitmq", "web", "intake", "worker", "beat", "flower", "simulator"}
    assert expected <= set(services)
    for name in expected:
        assert "test" in services[name]["healthcheck"], name


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
