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

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason
