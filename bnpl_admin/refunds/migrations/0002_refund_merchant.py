import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def merchant_from_plan(apps, schema_editor):
    """A refund issued before this field was its plan's merchant's (the old webhook rule)."""
    Refund = apps.get_model("refunds", "Refund")
    Plan = apps.get_model("plans", "Plan")
    Refund.objects.filter(plan__isnull=False).update(
        merchant_id=Subquery(Plan.objects.filter(pk=OuterRef("plan_id")).values("merchant_id")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0001_initial"),
        ("plans", "0004_fewer_indexes"),
        ("webhooks", "0002_events_newest_first_by_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="refund",
            name="merchant",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="refunds",
                to="webhooks.merchant",
            ),
        ),
        migrations.RunPython(merchant_from_plan, migrations.RunPython.noop),
    ]
