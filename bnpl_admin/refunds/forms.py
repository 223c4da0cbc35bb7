from decimal import Decimal

from django import forms

from bnpl_admin.money import MAX_AMOUNT
from bnpl_admin.plans.forms import MoneyField, OneTimeTokenField
from bnpl_admin.staff.templatetags.bnpl import money
from bnpl_admin.webhooks.models import Merchant


class RefundForm(forms.Form):
    transaction_id = forms.CharField(
        label="Transaction ID", max_length=64, widget=forms.TextInput(attrs={"autofocus": True})
    )
    amount = MoneyField(
        label="Amount",
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    plan = forms.ChoiceField(label="Plan", required=False)
    merchant = forms.ModelChoiceField(
        label="Merchant",
        queryset=Merchant.objects.order_by("name"),
        to_field_name="code",
        required=False,
        empty_label="None",
        help_text="Only this merchant's webhook can approve or reject the refund. "
        "A refund on a plan is the plan's merchant's: leave this empty or choose that one.",
    )
    reason = forms.CharField(label="Reason", max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    token = OneTimeTokenField()

    def __init__(self, *args, plans=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = [("", "No plan")] + [
            (str(plan.pk), " · ".join(_plan_label(plan))) for plan in plans
        ]

    def clean_transaction_id(self):
        value = self.cleaned_data["transaction_id"].strip()
        if not value:
            raise forms.ValidationError("A transaction ID is required.")
        return value


def _plan_label(plan) -> list[str]:
    label = [f"{plan.created_at:%Y-%m-%d}", money(plan.total_amount), plan.get_status_display()]
    return [*label, plan.merchant.name] if plan.merchant_id else label


class CancelRefundForm(forms.Form):
    reason = forms.CharField(
        label="Reason", max_length=300, widget=forms.Textarea(attrs={"rows": 3, "autofocus": True})
    )
    token = OneTimeTokenField()

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason
