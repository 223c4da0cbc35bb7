import json

import django_tables2 as tables
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.html import format_html

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.sentences import action_words, describe
from bnpl_admin.staff.tables import FormattedDateColumn, Table
from bnpl_admin.text import short_id


class AuditEventTable(Table):
    at = FormattedDateColumn(verbose_name="When", format="Y-m-d H:i:s")
    actor_label = tables.Column(verbose_name="Actor")
    action = tables.Column(verbose_name="Action")
    target = tables.Column(
        verbose_name="Target", accessor="target_id", orderable=False, attrs={"td": {"class": "target"}}
    )
    customer_ref = tables.Column(
        verbose_name="Customer", linkify=("customers:detail", [tables.A("customer_ref")]), orderable=False
    )
    data = tables.Column(verbose_name="Details", orderable=False, attrs={"td": {"class": "wrap"}})

    class Meta(Table.Meta):
        model = AuditEvent
        fields = ("at", "actor_label", "action", "target", "customer_ref", "data")
        order_by = ("-at",)

    def render_action(self, value):
        return format_html('<span title="{}">{}</span>', value, action_words(value))

    def render_target(self, record):
        return format_html(
            '{} <code title="{}">{}</code>', record.target_type, record.target_id, short_id(record.target_id)
        )

    def render_data(self, value, record):
        return describe(record.action, value)

    def value_action(self, value):
        return value

    def value_target(self, record):
        return f"{record.target_type}:{record.target_id}"

    def value_at(self, value):
        return timezone.localtime(value).isoformat()

    def value_data(self, value):
        """JSON in exports, which a script reads back (a Python dict's text would not parse)."""
        return json.dumps(value, ensure_ascii=False, cls=DjangoJSONEncoder)
