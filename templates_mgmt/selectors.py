"""Reads of templates."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from templates_mgmt import texts
from templates_mgmt.models import Template
from templates_mgmt.placeholders import TemplateError, placeholder_count, render

# What a template's sample fills every placeholder with. Placeholders carry no type (Tencent's
# numbered {1}, {2} …), so one value serves all: six digits, a verify code's usual length and a
# short order number's, and a value every template type takes (a verification template's
# parameters are 1 to 8 ASCII letters or digits). Real values of another length give other parts:
# POST v1/message/estimate counts them.
SAMPLE_VALUE = "123456"


def templates_of(*, owner: AbstractBaseUser) -> QuerySet[Template]:
    """The owner's templates, newest first: a tenant never sees another's."""
    return Template.objects.filter(owner=owner).select_related("sign").order_by("-id")


def template_sample(template: Template, *, international: bool) -> dict[str, Any] | None:
    """The template signed with its signature (``【signature】`` for mainland numbers, ``signature:
    `` for the others) and filled with ``SAMPLE_VALUE``: its text, the encoding it is billed in and
    its parts (``templates_mgmt.texts``, the rule sending bills by). None for a text that does not
    parse (none is stored so)."""
    try:
        body = render(template.template, [SAMPLE_VALUE] * placeholder_count(template.template))
    except TemplateError:
        return None
    text = texts.compose_message(signature=template.sign.signature, body=body, international=international)
    return {
        "text": text,
        "encoding": texts.encoding(text, gsm7_allowed=international),
        "parts": texts.count_segments(text, gsm7_allowed=international),
    }
