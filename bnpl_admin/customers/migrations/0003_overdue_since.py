from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0002_customer_id_pk_index"),
        ("plans", "0003_stricter"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="overdue_since",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                fields=["status", "overdue_since", "customer_id"], name="customer_status_overdue_since"
            ),
        ),
        # Existing data: from the installments (portable SQL, SQLite and PostgreSQL).
        migrations.RunSQL(
            sql=(
                "UPDATE customers_customer SET overdue_since = (SELECT MIN(i.due_date) FROM plans_installment i "
                "WHERE i.customer_id = customers_customer.id AND i.status = 'OVERDUE')"
            ),
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
