import django.db.models.expressions
from django.db import migrations, models


class Migration(migrations.Migration):
    """Added once the backfills have made every row's status agree with its amounts."""

    dependencies = [
        ("plans", "0006_backfill_payments"),
        ("refunds", "0004_apply_approved_refunds"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='installment',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('amount_due__gt', django.db.models.expressions.CombinedExpression(models.F('amount_paid'), '+', models.F('amount_refunded'))), ('status__in', ['UPCOMING', 'OVERDUE'])), models.Q(('amount_due', django.db.models.expressions.CombinedExpression(models.F('amount_paid'), '+', models.F('amount_refunded'))), ('amount_paid__gt', 0), ('status', 'PAID')), models.Q(('amount_due', models.F('amount_refunded')), ('amount_paid', 0), ('status', 'CANCELLED')), _connector='OR'), name='installment_status_matches_amounts'),
        ),
    ]
