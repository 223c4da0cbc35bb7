import django_filters
from django import forms

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.selectors import actions_in_use


def _action_choices():
    return [(action, action) for action in actions_in_use()]


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_label", lookup_expr="icontains", label="Actor")
    action = django_filters.ChoiceFilter(choices=_action_choices, empty_label="Any action", label="Action")
    customer = django_filters.CharFilter(field_name="customer_ref", lookup_expr="exact", label="Customer ID")
    date_from = django_filters.DateFilter(
        field_name="at", lookup_expr="date__gte", label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = django_filters.DateFilter(
        field_name="at", lookup_expr="date__lte", label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = AuditEvent
        fields = ["actor", "action", "customer", "date_from", "date_to"]
