from decimal import Decimal

from django import forms

from bnpl_admin.money import AMOUNT_TEXT, MAX_AMOUNT
from bnpl_admin.plans.schedule import MAX_INSTALLMENTS, MIN_INSTALLMENTS


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
    token = OneTimeTokenField()


class PaymentForm(forms.Form):
    token = OneTimeTokenField()
