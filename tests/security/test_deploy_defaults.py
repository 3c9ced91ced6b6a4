"""Issue 19, finding 2: deployment defaults.

- Production settings (DJANGO_DEBUG off, GM_EMBEDDED_DEFAULTS unset: what docker-compose runs)
  pass ``manage.py check --deploy`` with no warning: HSTS, the HTTPS redirect, Secure cookies and
  SECURE_PROXY_SSL_HEADER (they warned W004, W008, W012, W016).
- Production without DJANGO_SECRET_KEY refuses to start; make run's embedded defaults
  (GM_EMBEDDED_DEFAULTS=1) keep a generated key in the var dir.
- Compose publishes nginx only: Flower needs FLOWER_BASIC_AUTH and answers on the host's loopback;
  the simulator and gunicorn are not published. (Compose is read as YAML: no Docker engine here.)
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
# What an operator must provide (the ${NAME:?…} variables); the rest take compose's defaults.
OPERATOR_VALUES = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "SMS_SERVICE_TOKENS": secrets.token_urlsafe(32),
    "SMS_CALLBACK_TOKEN": secrets.token_urlsafe(32),
    "FLOWER_BASIC_AUTH": "ops:a-long-flower-password",
    "DJANGO_ALLOWED_HOSTS": "sms.example.com",
}


def _interpolate(value: str) -> str:
    def one(match: re.Match) -> str:
        name, operator, rest = match.group(1), match.group(2), match.group(3)
        if name in OPERATOR_VALUES:
            return OPERATOR_VALUES[name]
        assert operator == ":-", f"${{{name}}} has no default and the test gives it no value"
        return rest

    return re.sub(r"\$\{(\w+)(:[-?])?([^}]*)\}", one, str(value))


def _manage(args: list[str], environment: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GM_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "gm_server_notify.settings",
        **environment,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def compose_environment(service: str = "web") -> dict[str, str]:
    environment = COMPOSE["services"][service].get("environment") or COMPOSE["x-app"]["environment"]
    return {name: _interpolate(value) for name, value in environment.items()}


def test_compose_settings_pass_check_deploy_with_no_warning(tmp_path):
    result = _manage(["check", "--deploy", "--fail-level", "WARNING"], compose_environment(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_without_a_secret_key_refuses_to_start(tmp_path):
    environment = {k: v for k, v in compose_environment().items() if k != "DJANGO_SECRET_KEY"}
    result = _manage(["check"], environment, tmp_path)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr
    assert not (tmp_path / "var" / "secret_key").exists()


def test_production_refuses_a_settable_business_clock(tmp_path):
    """The test suite's settable clock (sending hours, scheduled sends) would let anyone who can
    write the cache move marketing into the night: production does not start with it."""
    result = _manage(["check"], {**compose_environment(), "GM_SETTABLE_CLOCK": "true"}, tmp_path)
    assert result.returncode != 0
    assert "GM_SETTABLE_CLOCK is for tests and local runs" in result.stderr


def test_make_runs_embedded_defaults_keep_a_generated_key(tmp_path):
    result = _manage(["check"], {"GM_EMBEDDED_DEFAULTS": "1"}, tmp_path)
    assert result.returncode == 0, result.stderr
    key_file = tmp_path / "var" / "secret_key"
    assert len(key_file.read_text()) >= 50
    assert key_file.stat().st_mode & 0o077 == 0


def _published(service: dict) -> list[str]:
    return [str(port) for port in service.get("ports", [])]


def test_compose_publishes_nginx_only_and_flower_on_loopback():
    services = COMPOSE["services"]
    for name, service in services.items():
        if name in ("nginx", "flower"):
            continue
        assert _published(service) == [], f"{name} is published"
    assert sorted(_published(services["nginx"])) == ["443:443", "80:80"]
    assert _published(services["flower"]) == ["127.0.0.1:5555:5555"]


def test_compose_flower_requires_basic_auth():
    flower = COMPOSE["services"]["flower"]
    assert flower["environment"]["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")
    # Every app variable still reaches Flower (the merge keeps them).
    assert set(COMPOSE["x-app"]["environment"]) <= set(flower["environment"])
    assert not any("basic-auth" in part for part in flower["command"]), "the password would show in ps"


def test_compose_nginx_fronts_gunicorn_with_the_shared_limits():
    nginx = COMPOSE["services"]["nginx"]
    assert nginx["depends_on"]["web"]["condition"] == "service_healthy"
    assert "test" in nginx["healthcheck"] and nginx["restart"] == "unless-stopped"
    conf = (REPO_ROOT / "deploy/nginx/compose.conf").read_text()
    assert "server web:8000;" in conf and "include /etc/nginx/gm/gm_http.conf;" in conf
    assert "include /etc/nginx/gm/gm_proxy.conf;" in conf
    assert "./deploy/nginx:/etc/nginx/gm:ro" in nginx["volumes"]
    assert COMPOSE["x-app"]["environment"]["TRUSTED_PROXIES"]
