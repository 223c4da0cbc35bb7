"""Choice widgets kept per process render exactly what Django's own renderer renders."""

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from bnpl_admin.audit.filters import AuditEventFilter
from bnpl_admin.customers.filters import CustomerFilter, DebtUserFilter
from bnpl_admin.customers.forms import StatusOverrideForm
from bnpl_admin.plans.forms import PlanForm
from bnpl_admin.refunds.forms import RefundForm
from bnpl_admin.staff.renderers import ChoiceWidgetMemoRenderer
from bnpl_admin.webhooks.filters import WebhookEventFilter
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def _forms():
    yield StatusOverrideForm(initial={"status": "DEBT_USER"})
    yield StatusOverrideForm(data={"status": "NORMAL", "reason": ""})
    for data in ({}, {"status": "NORMAL"}, {"status": "DEBT_USER"}, {"status": "nonsense"}):
        yield CustomerFilter(data=data).form
    for filterset in (DebtUserFilter, AuditEventFilter, WebhookEventFilter):
        yield filterset(data={}).form
    yield PlanForm()
    yield RefundForm()


class Choices(forms.Form):
    lazy = forms.ChoiceField(choices=[("y", gettext_lazy("Yes")), ("n", gettext_lazy("No"))])
    safe = forms.ChoiceField(choices=[("b", mark_safe("<b>bold</b>"))])
    text = forms.ChoiceField(choices=[("b", "<b>bold</b>")])
    radio = forms.ChoiceField(widget=forms.RadioSelect, choices=[("1", "One"), ("2", "Two")])
    several = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, choices=[("1", "One"), ("2", "Two")])


def _rendered(form, renderer):
    form.renderer = renderer
    return [str(field) for field in form]


@pytest.mark.parametrize("language", ["en-us", "de"])
def test_every_form_renders_as_with_djangos_renderer_first_time_and_kept(language):
    MerchantFactory()
    kept = ChoiceWidgetMemoRenderer()
    with translation.override(language):
        for form in [*_forms(), Choices(), Choices(data={"lazy": "n", "radio": "2", "several": ["1", "2"]})]:
            expected = _rendered(form, DjangoTemplates())
            assert _rendered(form, kept) == expected
            assert _rendered(form, kept) == expected  # now from what was kept
    assert kept._kept  # choice widgets were kept


def test_labels_in_another_language_or_safe_html_are_other_keys():
    kept = ChoiceWidgetMemoRenderer()
    with translation.override("en-us"):
        english = _rendered(Choices(), kept)
    with translation.override("de"):
        german = _rendered(Choices(), kept)

    assert ">Yes<" in english[0] and ">Ja<" in german[0]
    assert "<b>bold</b>" in english[1] and "&lt;b&gt;bold&lt;/b&gt;" in english[2]


def test_a_kept_widget_is_not_rendered_again(monkeypatch):
    kept = ChoiceWidgetMemoRenderer()

    def status_select():
        form = CustomerFilter(data={"status": "NORMAL"}).form
        form.renderer = kept
        return str(form["status"])

    first = status_select()
    monkeypatch.setattr(kept, "get_template", lambda name: pytest.fail(f"{name} rendered again"))

    assert status_select() == first and 'value="NORMAL" selected' in first


def test_what_was_typed_and_model_choices_are_never_kept():
    merchant = MerchantFactory(name="Kept Merchant")
    kept = ChoiceWidgetMemoRenderer()
    _rendered(RefundForm(data={"user_id": "usr-typed", "transaction_id": "txn-typed", "amount": "10.00"}), kept)
    merchants = _rendered(WebhookEventFilter(data={"merchant": merchant.code}).form, kept)
    _rendered(StatusOverrideForm(data={"status": "NORMAL", "reason": "typed reason"}), kept)

    kept_text = repr(list(kept._kept))
    assert "Kept Merchant" in merchants[0]  # shown, but rendered by Django every time
    assert "typed" not in kept_text and "Kept Merchant" not in kept_text
    assert "select.html" in kept_text  # the status select was kept
