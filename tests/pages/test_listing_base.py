"""What every list page shares: its table's columns, filter forms, pages and sort keys."""

import pytest
from django.test import RequestFactory

from bnpl_admin.audit.filters import AuditEventFilter
from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor, record
from bnpl_admin.customers import selectors
from bnpl_admin.customers.filters import CustomerFilter
from bnpl_admin.customers.tables import CustomerTable, DebtUserTable
from bnpl_admin.staff.paginators import MAX_PER_PAGE
from bnpl_admin.webhooks.filters import WebhookEventFilter
from tests.factories import CustomerFactory, MerchantFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("table_class", [CustomerTable, DebtUserTable])
def test_each_table_has_columns_of_its_own(table_class):
    first, second = table_class([]), table_class([])
    first.columns.hide("full_name")

    assert not first.columns["full_name"].visible
    assert second.columns["full_name"].visible and table_class([]).columns["full_name"].visible
    assert table_class.base_columns["full_name"].visible
    for name in table_class.base_columns:
        mine, theirs = first.columns[name].column, second.columns[name].column
        assert mine is not theirs and mine is not table_class.base_columns[name]
        assert mine.attrs == theirs.attrs and mine.attrs is not theirs.attrs


def test_a_table_lists_its_columns_in_the_declared_order():
    CustomerFactory()
    table = CustomerTable(selectors.customer_list())

    assert [c.name for c in table.columns] == list(CustomerTable.Meta.sequence)


def test_forms_of_one_class_still_validate_each_their_own_data():
    good = CustomerFilter(data={"status": "NORMAL"})
    bad = CustomerFilter(data={"status": "nonsense"})

    assert good.is_valid() and not bad.is_valid()
    assert good.form.cleaned_data["status"] == "NORMAL" and "status" in bad.form.errors
    assert good.form.fields["status"] is not bad.form.fields["status"]


def test_choices_read_from_the_database_stay_current():
    record(actor=Actor.system("test"), action="first.action", target_type="t", target_id="1")
    before = str(AuditEventFilter(data={}).form["action"])
    record(actor=Actor.system("test"), action="second.action", target_type="t", target_id="2")
    after = str(AuditEventFilter(data={}).form["action"])

    assert "first.action" in before and "second.action" not in before
    assert "second.action" in after and AuditEvent.objects.count() == 2


def test_a_filter_set_with_a_model_choice_makes_its_form_every_time():
    MerchantFactory(code="shop-a")
    first = WebhookEventFilter(data={}, request=RequestFactory().get("/"))
    first_form = type(first.form)
    MerchantFactory(code="shop-b")
    second = WebhookEventFilter(data={}, request=RequestFactory().get("/"))

    assert type(second.form) is not first_form
    assert "shop-b" in str(second.form["merchant"])


@pytest.mark.parametrize("url", ["/customers/", "/risk/", "/audit/", "/webhooks/"])
@pytest.mark.parametrize("page", ["9" * 30, str(2**63 // 25)])
def test_a_page_number_too_large_for_an_offset_is_a_page_past_the_end(superuser_client, url, page):
    """The database refused such an OFFSET (bigint out of range): a 500 before."""
    CustomerFactory(status="DEBT_USER")

    response = superuser_client.get(url, {"page": page})

    assert response.status_code == 200
    assert response.context["table"].page.number == 1


@pytest.mark.parametrize(("per_page", "rows"), [("100000", MAX_PER_PAGE), ("9" * 30, MAX_PER_PAGE), ("-1", 1)])
def test_a_page_asked_for_by_the_url_holds_at_most_a_hundred_rows(support_client, per_page, rows):
    """django-tables2 takes `?per_page=` from the URL: a hundred thousand rows on one page would hold a
    worker for minutes (and 30 nines answered 500)."""
    CustomerFactory.create_batch(MAX_PER_PAGE + 1)

    response = support_client.get("/customers/", {"per_page": per_page})

    assert response.status_code == 200
    assert len(response.context["table"].page.object_list) == rows


@pytest.mark.parametrize("sort", ["full_name.__class__", "-..", "phone_hash", "customer_id.x"])
def test_a_sort_key_that_names_no_column_is_ignored_without_a_warning(support_client, recwarn, sort):
    """django-tables2 ignored it too, but warned first about a "." in it (its old accessor syntax)."""
    CustomerFactory.create_batch(2)

    response = support_client.get("/customers/", {"sort": sort})

    assert response.status_code == 200
    assert list(response.context["table"].order_by) == []
    assert not [warning for warning in recwarn if issubclass(warning.category, DeprecationWarning)]
