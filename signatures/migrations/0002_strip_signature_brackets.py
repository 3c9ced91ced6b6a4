"""Signatures are stored without brackets (docs/content-rules.md): ``【去采购】`` becomes ``去采购``.

A name that still holds a bracket once its enclosing pair is gone (``【a】【b】``), or nothing at
all (``【】``), cannot be rendered as one signature; it is rejected, with the reason, for its owner to edit (an edit sends it
back to review). The rule is copied here, as a migration must not import code that may change.
"""

import re

from django.db import migrations

_ENCLOSED = re.compile(r"^[\[【](.*)[\]】]$", re.DOTALL)
_BRACKETS = frozenset("【】[]")
REJECT_REASON = "the signature's name is empty or holds 【, 】, [ or ]: edit it"


def strip_brackets(apps, schema_editor):
    Signature = apps.get_model("signatures", "Signature")
    for sign in Signature.objects.only("signature", "audit_status", "reject_reason").iterator():
        text = sign.signature.strip()
        if text == sign.signature and not _BRACKETS & set(text):
            continue
        match = _ENCLOSED.match(text)
        name = (match.group(1) if match else text).strip()
        fields = ["signature"]
        if _BRACKETS & set(name) or not name:
            name = name or sign.signature
            sign.audit_status, sign.reject_reason = "rejected", REJECT_REASON
            fields += ["audit_status", "reject_reason"]
        sign.signature = name
        sign.save(update_fields=fields)


class Migration(migrations.Migration):
    dependencies = [("signatures", "0001_initial")]

    operations = [migrations.RunPython(strip_brackets, migrations.RunPython.noop)]
