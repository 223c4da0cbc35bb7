"""The application's customers table, read-only: a few plain columns, no migrations."""

from django.db import models


class Customer(models.Model):
    id = models.BigAutoField(primary_key=True)
    customer_id = models.CharField(max_length=64)
    status = models.CharField(max_length=16)
    created_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "customers_customer"

    def __str__(self):
        return self.customer_id
