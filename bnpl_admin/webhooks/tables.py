import django_tables2 as tables

from bnpl_admin.staff.tables import FormattedDateColumn, Table
from bnpl_admin.staff.templatetags.bnpl import status_badge
from bnpl_admin.webhooks.models import WebhookEvent


class WebhookEventTable(Table):
    id = tables.Column(verbose_name="Event", linkify=("webhooks:detail", [tables.A("pk")]))
    received_at = FormattedDateColumn(verbose_name="Received", format="Y-m-d H:i:s")
    merchant = tables.Column(verbose_name="Merchant", accessor="merchant__code")
    # Dropped first on narrower screens (app.css .low-priority): the detail matters more.
    webhook_id = tables.Column(
        verbose_name="Webhook ID", attrs={"th": {"class": "low-priority"}, "td": {"class": "key low-priority"}}
    )
    refund_ref = tables.Column(verbose_name="Refund")
    requested_status = tables.Column(verbose_name="Reported")
    status = tables.Column(verbose_name="Status")
    attempts = tables.Column(
        verbose_name="Attempts", attrs={"th": {"class": "low-priority"}, "td": {"class": "num low-priority"}}
    )
    detail = tables.Column(verbose_name="Detail", orderable=False, attrs={"td": {"class": "wrap"}})

    class Meta(Table.Meta):
        model = WebhookEvent
        fields = ("id", "received_at", "merchant", "webhook_id", "refund_ref", "requested_status", "status")
        sequence = (
            "id",
            "received_at",
            "merchant",
            "webhook_id",
            "refund_ref",
            "requested_status",
            "status",
            "attempts",
            "detail",
        )
        order_by = ("-received_at",)

    def render_status(self, record, value):
        return status_badge(record.status, value)

    def value_status(self, value):
        return value
