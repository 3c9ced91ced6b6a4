"""The default SMS packages, so a fresh install can recharge at once."""

from decimal import Decimal

from django.db import migrations

DEFAULT_COMBOS = [
    # (id, name, price, sms_nums, unit_price fen, is_custom)
    (1, "套餐包: 2000条", Decimal("200.00"), 2000, 10, False),
    (2, "套餐包: 5000条", Decimal("450.00"), 5000, 9, False),
    (3, "套餐包: 10000条", Decimal("800.00"), 10000, 8, False),
    (4, "自定义套餐包", Decimal("0.00"), 0, 10, True),
]


def create_combos(apps, schema_editor):
    Combo = apps.get_model("sms", "Combo")
    for sort_order, (pk, name, price, sms_nums, unit_price, is_custom) in enumerate(DEFAULT_COMBOS):
        Combo.objects.update_or_create(
            pk=pk,
            defaults={
                "name": name,
                "price": price,
                "sms_nums": sms_nums,
                "unit": "条",
                "unit_price": unit_price,
                "is_custom": is_custom,
                "sort_order": sort_order,
            },
        )


def remove_combos(apps, schema_editor):
    apps.get_model("sms", "Combo").objects.filter(pk__in=[combo[0] for combo in DEFAULT_COMBOS]).delete()


class Migration(migrations.Migration):
    dependencies = [("sms", "0001_initial")]
    operations = [migrations.RunPython(create_combos, remove_combos)]
