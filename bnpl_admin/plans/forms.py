from decimal import Decimal

from django import forms

from bnpl_admin.money import AMOUNT_TEXT, MAX_AMOUNT
from bnpl_admin.plans.ledger import MAX_REASON, MAX_REFERENCE
from bnpl_admin.plans.models import Payment
from bnpl_admin.plans.schedule import MAX_INSTALLMENTS, MIN_INSTALLMENTS
from bnpl_admin.staff.templatetags.bnpl import money
from bnpl_admin.text import short_id
from bnpl_admin.webhooks.models import Merchant


class OneTimeTokenField(forms.CharField):
    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        super().__init__(max_length=64, **kwargs)


class MoneyField(forms.DecimalField):
    """A positive amount in plain ASCII digits with at most two decimals."""

    def to_python(self, value):
        if isinstance(value, str) and value.strip() and not AMOUNT_TEXT.match(value.strip()):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class PlanForm(forms.Form):
    total_amount = MoneyField(
        label="Total amount",
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal", "autofocus": True}),
    )
    installment_count = forms.TypedChoiceField(
        label="Installments",
        coerce=int,
        choices=[(n, f"{n} monthly installments") for n in range(MIN_INSTALLMENTS, MAX_INSTALLMENTS + 1)],
        initial=3,
    )
    # The merchant the goods were bought from: only its signed webhook can confirm the plan's refunds.
    merchant = forms.ModelChoiceField(
        label="Merchant",
        queryset=Merchant.objects.filter(is_active=True),
        to_field_name="code",
        required=False,
        empty_label="No merchant",
        help_text="Where the goods were bought: its webhook confirms this plan's refunds.",
    )
    token = OneTimeTokenField()


class PaymentForm(forms.Form):
    token = OneTimeTokenField()


class RecordPaymentForm(forms.Form):
    """A payment by amount (rule 6): the ledger allocates it; `plan` limits it to one ACTIVE plan."""

    amount = MoneyField(
        label="Amount",
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal", "autofocus": True}),
    )
    method = forms.ChoiceField(label="Method", choices=Payment.Method.choices, initial=Payment.Method.CARD)
    reference = forms.CharField(
        label="Reference",
        max_length=MAX_REFERENCE,
        help_text="The payer's or the processor's id of this payment: the same reference is the same payment.",
    )
    plan = forms.ChoiceField(label="Plan", required=False)
    token = OneTimeTokenField()

    def __init__(self, *args, plans=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = [("", "Any plan: overdue installments first, then by due date")] + [
            (str(plan.pk), _plan_label(plan)) for plan in plans
        ]


def _plan_label(plan) -> str:
    """A plan as the profile shows it: its start, total, the first characters of its id, and what
    remains (`active_plans_of` annotates it)."""
    return " · ".join(
        [
            f"{plan.start_date:%Y-%m-%d}",
            money(plan.total_amount),
            short_id(plan.pk),
            f"{money(plan.remaining)} remaining",
        ]
    )


class ReasonForm(forms.Form):
    """Why a payment is reversed or a plan cancelled (audited), and the one-time token."""

    reason = forms.CharField(
        label="Reason", max_length=MAX_REASON, widget=forms.Textarea(attrs={"rows": 3, "autofocus": True})
    )
    token = OneTimeTokenField()
