import django_filters

from bnpl_admin.webhooks.models import Merchant, WebhookEvent


class WebhookEventFilter(django_filters.FilterSet):
    merchant = django_filters.ModelChoiceFilter(
        queryset=Merchant.objects.order_by("code"), to_field_name="code", empty_label="Any merchant"
    )
    status = django_filters.ChoiceFilter(choices=WebhookEvent.Status.choices, empty_label="Any status")
    refund = django_filters.CharFilter(field_name="refund_ref", lookup_expr="exact", label="Refund ID")

    class Meta:
        model = WebhookEvent
        fields = ["merchant", "status", "refund"]
