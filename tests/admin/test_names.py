"""The admin reads as English: model names pluralised, app names written for people (issue 32)."""

import re

import pytest
from django.apps import apps
from django.contrib import admin

from tests.support.factories import UserFactory

# Plurals made by a bare "s" on words that take "es" or "ies": "entrys", "deliverys",
# "statisticss", "inboxs", "batchs".
WRONG_PLURAL = re.compile(r"([^aeiou]ys|ss|xs|zs|chs|shs)$")
OUR_APPS = ("sms", "signatures", "templates_mgmt", "providers", "audit", "gm_server_notify")


def every_model():
    return list(apps.get_models())


@pytest.mark.parametrize("model", every_model(), ids=lambda model: model._meta.label)
def test_every_model_name_is_pluralised_as_english(model):
    plural = str(model._meta.verbose_name_plural)
    assert not WRONG_PLURAL.search(plural), f"{model._meta.label}: {plural!r}"


@pytest.mark.parametrize("app_label", OUR_APPS)
def test_our_apps_name_themselves_for_people(app_label):
    config = apps.get_app_config(app_label)
    # Set on the class, not Django's label.title() ("Templates_Mgmt", "Sms").
    assert "verbose_name" in type(config).__dict__, app_label
    assert "_" not in config.verbose_name


def test_every_app_in_the_admin_has_a_readable_name():
    for app_label in {model._meta.app_label for model in admin.site._registry}:
        name = apps.get_app_config(app_label).verbose_name
        assert "_" not in name, name


@pytest.mark.django_db
def test_the_admin_index_shows_the_readable_names(client):
    client.force_login(UserFactory(username="operator", is_staff=True, is_superuser=True))
    page = client.get("/admin/").content.decode()
    for wanted in ("Blocklist entries", "Webhook deliveries", ">SMS<", ">Templates<"):
        assert wanted in page
    for wrong in (
        "entrys",
        "deliverys",
        "Templates_Mgmt",
        "TEMPLATES_MGMT",
        ">Sms<",
        "Django administration",
    ):
        assert wrong not in page
