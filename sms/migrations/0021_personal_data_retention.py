"""Retention and erasure (sms/privacy/): opt-outs keyed by a hash of their number, so they outlive
its erasure, and the cursor retention keeps per table."""

import hashlib
import hmac

from django.conf import settings
from django.db import migrations, models


def hash_existing_numbers(apps, schema_editor):
    """Fill ``phone_hash`` of the entries there are (as ``sms.core.phones.phone_hash``: kept inline,
    a migration must not follow the code)."""
    entry_model = apps.get_model("sms", "BlocklistEntry")
    key = settings.SMS_PHONE_HASH_KEY.encode()
    for entry in entry_model.objects.filter(phone_hash="").only("id", "phone_e164").iterator(chunk_size=2000):
        digest = hmac.new(key, entry.phone_e164.encode(), hashlib.sha256).hexdigest()
        entry_model.objects.filter(pk=entry.pk).update(phone_hash=digest)


class Migration(migrations.Migration):
    dependencies = [
        ("sms", "0020_recharge_receipt_once"),
    ]

    operations = [
        migrations.AddField(
            model_name="blocklistentry",
            name="phone_hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(hash_existing_numbers, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="blocklistentry",
            name="phone_e164",
            field=models.CharField(blank=True, max_length=24),
        ),
        migrations.RemoveConstraint(
            model_name="blocklistentry",
            name="blocklist_once_per_signature",
        ),
        migrations.RemoveIndex(
            model_name="blocklistentry",
            name="blocklist_tenant_phone_idx",
        ),
        migrations.AddConstraint(
            model_name="blocklistentry",
            constraint=models.UniqueConstraint(
                fields=("tenant", "sign_id", "phone_hash"), name="blocklist_hash_once_per_signature"
            ),
        ),
        migrations.AddIndex(
            model_name="blocklistentry",
            index=models.Index(fields=["tenant", "phone_hash"], name="blocklist_tenant_hash_idx"),
        ),
        migrations.AddIndex(
            model_name="blocklistentry",
            index=models.Index(fields=["phone_e164"], name="blocklist_phone_idx"),
        ),
        migrations.CreateModel(
            name="RetentionCursor",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("table", models.CharField(max_length=64, unique=True)),
                ("next_id", models.BigIntegerField(default=0)),
                ("held_ids", models.JSONField(blank=True, default=list)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "db_table": "tbl_sms_retention_cursor",
            },
        ),
    ]
