from django.db import migrations

from bnpl_admin.plans.backfill import apply_approved_refunds


def forwards(apps, schema_editor):
    apply_approved_refunds(
        apps.get_model("refunds", "Refund"),
        apps.get_model("plans", "Plan"),
        apps.get_model("plans", "Installment"),
        apps.get_model("customers", "Customer"),
        apps.get_model("audit", "AuditEvent"),
    )


class Migration(migrations.Migration):
    """Refunds approved before rule 8 reduce what their customers owe, as new ones do."""

    dependencies = [
        ("refunds", "0003_refund_split"),
        ("plans", "0006_backfill_payments"),
        ("customers", "0006_search_indexes"),
        ("audit", "0002_order_ties_by_id"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
