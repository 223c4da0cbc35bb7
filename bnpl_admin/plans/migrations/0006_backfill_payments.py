from django.db import migrations

from bnpl_admin.plans.backfill import post_paid_installments


def forwards(apps, schema_editor):
    post_paid_installments(
        apps.get_model("plans", "Installment"), apps.get_model("plans", "Payment"), apps.get_model("plans", "PaymentAllocation")
    )


class Migration(migrations.Migration):
    """A PAID installment was paid in full: it gets amount_paid and one payment allocated to it."""

    dependencies = [("plans", "0005_ledger")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
