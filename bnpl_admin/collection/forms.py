from decimal import Decimal

from django import forms

from bnpl_admin.collection.services import MAX_NOTE, MAX_PROMISE_DAYS, InvalidCaseAction, check_promise_date
from bnpl_admin.money import MAX_AMOUNT
from bnpl_admin.plans.forms import MoneyField, OneTimeTokenField

NOBODY = ""


class AssignForm(forms.Form):
    """Give the case to a user who may work cases (`workers`: their usernames), or to nobody."""

    assignee = forms.ChoiceField(label="Give the case to", required=False)
    token = OneTimeTokenField()

    def __init__(self, *args, workers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [(NOBODY, "Nobody (unassigned)")] + [(name, name) for name in workers]


class NoteForm(forms.Form):
    text = forms.CharField(
        label="Note",
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept on the case and on the customer's timeline. Phone, card and passport numbers typed "
        "here are stored masked (****): the note never holds them in full.",
    )
    token = OneTimeTokenField()

    def clean_text(self):
        text = self.cleaned_data["text"].strip()
        if not text:
            raise forms.ValidationError("A note cannot be empty.")
        return text


class PromiseForm(forms.Form):
    """A promise to pay an amount by a day, from today to MAX_PROMISE_DAYS ahead."""

    amount = MoneyField(
        label="Amount",
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    due_date = forms.DateField(
        label="Pay by",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=f"From today to {MAX_PROMISE_DAYS} days ahead. Kept once payments made from now reach the "
        "amount by this day; broken the day after otherwise.",
    )
    token = OneTimeTokenField()

    def clean_due_date(self):
        due = self.cleaned_data["due_date"]
        try:
            check_promise_date(due)  # the service's rule, shown beside the field
        except InvalidCaseAction as exc:
            raise forms.ValidationError(str(exc)) from None
        return due
