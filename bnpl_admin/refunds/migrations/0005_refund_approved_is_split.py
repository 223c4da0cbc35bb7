import django.db.models.expressions
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("refunds", "0004_apply_approved_refunds")]

    operations = [
        migrations.AddConstraint(
            model_name='refund',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('amount', django.db.models.expressions.CombinedExpression(models.F('amount_applied'), '+', models.F('amount_to_customer'))), ('amount_applied__gte', 0), ('amount_to_customer__gte', 0), ('status', 'APPROVED')), models.Q(models.Q(('status', 'APPROVED'), _negated=True), ('amount_applied__isnull', True), ('amount_to_customer__isnull', True)), _connector='OR'), name='refund_approved_is_split'),
        ),
    ]
