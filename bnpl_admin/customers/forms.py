from django import forms

from bnpl_admin.customers.models import Customer


class StatusOverrideForm(forms.Form):
    status = forms.ChoiceField(choices=Customer.Status.choices, label="New status")
    reason = forms.CharField(
        label="Reason",
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required; kept in the audit log",
    )
    hold_until = forms.DateField(
        label="Hold until",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Needed to set a customer with an overdue installment NORMAL: the overdue checker leaves "
        "them NORMAL until this day (at most 90 days ahead), then makes them DEBT_USER again if still overdue.",
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason
