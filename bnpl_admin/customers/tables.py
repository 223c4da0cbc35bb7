import django_tables2 as tables
from django.utils import timezone

from bnpl_admin.collection.portfolio import bucket_label, days_past_due
from bnpl_admin.customers.models import Customer
from bnpl_admin.staff.tables import FormattedDateColumn, Table
from bnpl_admin.staff.templatetags.bnpl import money, status_badge


class CustomerTable(Table):
    """Masked columns only: the encrypted ones are never loaded for a list or an export."""

    tiebreaker = "customer_id"  # the indexes on status and on overdue_since end with it

    customer_id = tables.Column(verbose_name="Customer ID", linkify=("customers:detail", [tables.A("customer_id")]))
    full_name = tables.Column(verbose_name="Name")
    phone_masked = tables.Column(verbose_name="Phone", orderable=False)
    # Dropped first on narrower screens (app.css .low-priority): the amounts matter more.
    passport_masked = tables.Column(
        verbose_name="Passport",
        orderable=False,
        attrs={"th": {"class": "low-priority"}, "td": {"class": "low-priority"}},
    )
    card_masked = tables.Column(verbose_name="Card", orderable=False)
    status = tables.Column(verbose_name="Status")
    # Who owes what, stored on the customer (plans.balances): sorted through an index each, the
    # most owed first on the first click. Days past due sorts through the index on overdue_since.
    outstanding = tables.Column(
        verbose_name="Outstanding",
        accessor="outstanding_amount",
        initial_sort_descending=True,
        attrs={"td": {"class": "num"}, "th": {"class": "num"}},
    )
    overdue_amount = tables.Column(
        verbose_name="Overdue",
        initial_sort_descending=True,
        attrs={"td": {"class": "num"}, "th": {"class": "num"}},
    )
    dpd = tables.Column(
        verbose_name="Days overdue",
        accessor="overdue_since",
        order_by=("-overdue_since",),
        empty_values=(),
        attrs={"td": {"class": "num"}, "th": {"class": "num"}},
    )
    created_at = FormattedDateColumn(
        verbose_name="Created", format="Y-m-d", attrs={"th": {"class": "low-priority"}, "td": {"class": "low-priority"}}
    )

    class Meta(Table.Meta):
        model = Customer
        fields = ("customer_id", "full_name", "phone_masked", "passport_masked", "card_masked", "status", "created_at")
        sequence = (*fields[:-1], "outstanding", "overdue_amount", "dpd", "created_at")
        order_by = ("customer_id",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = timezone.localdate()  # one day for every row

    def render_status(self, record, value):
        return status_badge(record.status, value)

    def value_status(self, value):
        return value

    def render_outstanding(self, value):
        return money(value)

    def render_overdue_amount(self, value):
        return money(value) if value else "—"

    def render_dpd(self, value):
        return days_past_due(value, self.today) or "—"

    def value_dpd(self, value):
        return days_past_due(value, self.today) or 0


class DebtUserTable(Table):
    tiebreaker = "customer_id"
    customer_id = tables.Column(verbose_name="Customer ID", linkify=("customers:detail", [tables.A("customer_id")]))
    full_name = tables.Column(verbose_name="Name")
    phone_masked = tables.Column(verbose_name="Phone", orderable=False)
    total_overdue = tables.Column(verbose_name="Total overdue", attrs={"td": {"class": "num"}, "th": {"class": "num"}})
    overdue_count = tables.Column(verbose_name="Overdue installments", attrs={"td": {"class": "num"}})
    oldest_due_date = FormattedDateColumn(verbose_name="Oldest due", format="Y-m-d", order_by=("overdue_since",))
    days_overdue = tables.Column(
        verbose_name="Days overdue",
        accessor="oldest_due_date",
        order_by=("-overdue_since",),
        attrs={"td": {"class": "num"}},
    )
    # Rule 10's bucket of the days overdue: sorted as they are.
    bucket = tables.Column(verbose_name="Bucket", accessor="oldest_due_date", order_by=("-overdue_since",))

    class Meta(Table.Meta):
        order_by = ("-days_overdue",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = timezone.localdate()  # one day for every row, also of an export running past midnight

    def render_total_overdue(self, value):
        return money(value)

    def render_days_overdue(self, value):
        return days_past_due(value, self.today) or 0

    def value_total_overdue(self, value):
        return value

    def value_days_overdue(self, value):
        return self.render_days_overdue(value)

    def render_bucket(self, value):
        return bucket_label(value, self.today)

    def value_bucket(self, value):
        return self.render_bucket(value)
