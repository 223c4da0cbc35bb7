"""What the tables show: sorting links that keep the filters, the risk figures, plain exported ids."""

import datetime

import pytest
from django.test import RequestFactory
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from bnpl_admin.collection.portfolio import bucket_of
from bnpl_admin.customers.models import Customer
from bnpl_admin.customers.tables import CustomerTable
from bnpl_admin.plans.services import check_overdue
from tests.factories import CustomerFactory, PlanFactory
from tests.pages import html_of, table_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers():
    today = timezone.localdate()
    PlanFactory(start_date=today - datetime.timedelta(days=70))
    PlanFactory(start_date=today - datetime.timedelta(days=40), customer=CustomerFactory(full_name="<b>Tag</b> & Co"))
    CustomerFactory(date_of_birth=None)
    check_overdue()
    assert Customer.objects.filter(status=Customer.Status.DEBT_USER).count() == 2


def test_cells_are_escaped_and_statuses_shown_as_badges(support_client, customers):
    html = html_of(support_client.get("/customers/", {"sort": "status"}))

    assert "&lt;b&gt;Tag&lt;/b&gt; &amp; Co" in html
    assert 'class="badge badge-debt_user">Debt user</span>' in html


def test_an_empty_table_shows_its_empty_text():
    html = CustomerTable(Customer.objects.none(), empty_text="No customers").as_html(RequestFactory().get("/"))

    assert '<td colspan="7">No customers</td>' in html


def test_the_header_links_sort_the_other_way_and_keep_the_filter(support_client, customers):
    html = html_of(support_client.get("/customers/", {"status": "DEBT_USER", "sort": "full_name"}))

    assert '<th class="asc orderable">' in html
    assert '<a href="?status=DEBT_USER&amp;sort=-full_name">Name</a>' in html
    assert '<a href="?status=DEBT_USER&amp;sort=customer_id">Customer ID</a>' in html


def test_the_risk_review_rows_show_the_overdue_figures(risk_client, customers):
    rows = table_rows(risk_client.get("/risk/"))

    assert len(rows) == 2
    for _customer_id, _name, _phone, total, count, oldest, days, bucket in rows:
        assert total.endswith(" UZS") and int(count) >= 1
        assert int(days) == (timezone.localdate() - datetime.date.fromisoformat(oldest)).days
        assert bucket == bucket_of(int(days))


def test_the_customer_link_exports_as_its_plain_id():
    CustomerFactory(customer_id="usr-export")
    table = CustomerTable(Customer.objects.all())

    exported = list(table.as_values())

    assert exported[1][0] == "usr-export"


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False, allow_infinity=False))
def test_money_groups_thousands_as_intcomma_does(amount):
    from django.contrib.humanize.templatetags.humanize import intcomma
    from django.utils import translation

    from bnpl_admin.staff.templatetags.bnpl import money

    whole, cents = f"{abs(amount):.2f}".split(".")
    sign = "-" if amount < 0 else ""
    for language in ("en-us", "de", "fr"):  # ",", "." and a space between thousands
        with translation.override(language):
            assert money(amount) == f"{sign}{intcomma(int(whole))}.{cents} UZS"
