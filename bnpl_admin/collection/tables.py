import django_tables2 as tables
from django.utils import timezone
from django.utils.html import format_html

from bnpl_admin.collection.portfolio import bucket_label, days_past_due
from bnpl_admin.staff.tables import FormattedDateColumn, Table
from bnpl_admin.staff.templatetags.bnpl import money


class CaseQueueTable(Table):
    """The open cases (`selectors.case_queue`), in the queue's order unless a column is sorted."""

    tiebreaker = "id"

    case = tables.Column(verbose_name="Case", accessor="id", linkify=("collection:case", [tables.A("id")]))
    customer = tables.Column(
        verbose_name="Customer",
        accessor="customer__customer_id",
        linkify=("collection:case", [tables.A("id")]),
        orderable=False,
    )
    name = tables.Column(verbose_name="Name", accessor="customer__full_name", orderable=False)
    dpd = tables.Column(
        verbose_name="Days overdue",
        accessor="overdue_since",
        order_by=("-queue_overdue_since",),
        attrs={"td": {"class": "num"}, "th": {"class": "num"}},
        empty_values=(),
    )
    bucket = tables.Column(verbose_name="Bucket", accessor="overdue_since", orderable=False, empty_values=())
    assignee = tables.Column(verbose_name="Assignee", accessor="assignee__username", orderable=False, default="—")
    promise = tables.Column(verbose_name="Promise", accessor="id", orderable=False, empty_values=())
    opened_at = FormattedDateColumn(verbose_name="Opened", format="Y-m-d")

    class Meta(Table.Meta):
        attrs = {**Table.Meta.attrs, "id": "case-queue"}
        row_attrs = {"id": lambda record: f"case-{record.pk}"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = timezone.localdate()  # one day for every row

    def render_dpd(self, value):
        dpd = days_past_due(value, self.today)
        return "—" if dpd is None else dpd

    def value_dpd(self, value):
        return days_past_due(value, self.today)

    def render_bucket(self, value):
        return bucket_label(value, self.today) or "—"

    def value_bucket(self, value):
        return bucket_label(value, self.today)

    def render_promise(self, record):
        if record.queue_broken:
            return format_html('<span class="badge badge-broken">Broken</span> {}', f"{record.broken_on:%Y-%m-%d}")
        if record.next_promise_on:
            return format_html(
                '<span class="badge badge-pending">Pending</span> {} by {}',
                money(record.next_promise_amount),
                f"{record.next_promise_on:%Y-%m-%d}",
            )
        return "—"
