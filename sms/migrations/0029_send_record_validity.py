from django.db import migrations, models


class Migration(migrations.Migration):
    # Validity periods (issue 26): a record's expires_at, and the index the validity sweep reads.
    dependencies = [
        ("sms", "0028_reconciliation_covering_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="sendrecord",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="sendrecord",
            index=models.Index(fields=["state", "expires_at"], name="record_state_expires_idx"),
        ),
    ]
