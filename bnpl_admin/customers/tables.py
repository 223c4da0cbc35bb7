import django_tables2 as tables

from bnpl_admin.customers.models import Customer


class CustomerTable(tables.Table):
    """Masked columns only: the encrypted ones are never loaded for a list or an export."""

    customer_id = tables.Column(verbose_name="Customer ID")
    full_name = tables.Column(verbose_name="Name")
    phone_masked = tables.Column(verbose_name="Phone", orderable=False)
    passport_masked = tables.Column(verbose_name="Passport", orderable=False)
    card_masked = tables.Column(verbose_name="Card", orderable=False)
    status = tables.TemplateColumn(template_name="components/status_badge_cell.html", verbose_name="Status")
    created_at = tables.DateTimeColumn(verbose_name="Created", format="Y-m-d")

    class Meta:
        model = Customer
        fields = ("customer_id", "full_name", "phone_masked", "passport_masked", "card_masked", "status", "created_at")
        attrs = {"class": "table"}
        order_by = ("customer_id",)
