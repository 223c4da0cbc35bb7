"""What the tables show: sorting links that keep the filters, the risk figures, plain exported ids."""

import datetime
import re
from decimal import Decimal
from unittest import mock

import pytest
from django.core.cache import caches
from django.core.cache.utils import make_template_fragment_key
from django.test import RequestFactory
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from bnpl_admin.audit.services import Actor
from bnpl_admin.collection.portfolio import bucket_of
from bnpl_admin.customers.models import Customer
from bnpl_admin.customers.tables import CustomerTable
from bnpl_admin.plans import ledger
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

    assert '<td colspan="10">No customers</td>' in html


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


# --- a table page rendered once per fingerprint (staff.tables.Table.fingerprint, {% cache %}) -----


def _cached_table_html(response) -> str | None:
    key = make_template_fragment_key("table", [response.context["table"].fingerprint()])
    return caches["fragments"].get(key)


def test_a_table_page_is_kept_under_what_it_shows(support_client, customers):
    response = support_client.get("/customers/", {"sort": "status"})

    cached = _cached_table_html(response)
    assert cached is not None and cached in html_of(response)
    again = support_client.get("/customers/", {"sort": "status"})
    assert cached in html_of(again) and table_rows(again) == table_rows(response)


def test_a_change_to_a_row_shows_at_once(support_client, customers):
    support_client.get("/customers/", {"sort": "status"})
    customer = Customer.objects.get(full_name="<b>Tag</b> & Co")
    Customer.objects.filter(pk=customer.pk).update(full_name="Renamed Person", status=Customer.Status.NORMAL)

    rows = {cells[0]: cells for cells in table_rows(support_client.get("/customers/", {"sort": "status"}))}

    assert rows[customer.customer_id][1] == "Renamed Person"
    assert rows[customer.customer_id][5] == "Normal"


def test_another_sort_page_or_day_is_another_fragment(risk_client, customers):
    base = risk_client.get("/risk/")
    fingerprints = {
        base.context["table"].fingerprint(),
        risk_client.get("/risk/", {"sort": "customer_id"}).context["table"].fingerprint(),
        risk_client.get("/risk/", {"per_page": 1}).context["table"].fingerprint(),
        risk_client.get("/risk/", {"per_page": 1, "page": 2}).context["table"].fingerprint(),
    }
    real_localdate = timezone.localdate
    a_day_later = mock.patch.object(
        timezone, "localdate", side_effect=lambda *a, **k: real_localdate(*a, **k) + datetime.timedelta(days=1)
    )
    with a_day_later:
        tomorrow = risk_client.get("/risk/")
        fingerprints.add(tomorrow.context["table"].fingerprint())

    assert len(fingerprints) == 5
    # The days overdue count from the day of the request, not from the day the page was cached.
    days = [int(cells[6]) for cells in table_rows(base)]
    assert [int(cells[6]) for cells in table_rows(tomorrow)] == [d + 1 for d in days]


# --- empty tables say why ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "filters", "nothing_yet", "no_match"),
    [
        ("/customers/", {"q": "nobody-like-this"}, "No customers yet.", "No customer matches these filters."),
        ("/risk/", {"q": "nobody"}, "No customers in debt yet.", "No customer in debt matches these filters."),
        ("/collections/", {"view": "mine"}, "No open cases yet.", "No open case matches these filters."),
        ("/audit/", {"actor": "nobody-like-this"}, None, "No event matches these filters."),
        ("/webhooks/", {"status": "FAILED"}, "No webhook events yet.", "No webhook event matches these filters."),
    ],
)
def test_an_empty_table_says_whether_nothing_exists_or_nothing_matches(
    superuser_client, db, path, filters, nothing_yet, no_match
):
    if nothing_yet:  # the audit log of a fresh database already holds the sign-in's events
        assert nothing_yet in html_of(superuser_client.get(path))
    if path == "/customers/":
        CustomerFactory()

    html = html_of(superuser_client.get(path, filters))

    assert no_match in html
    assert f'<a href="{path}">Clear filters</a>' in html
    assert table_rows(html) == [[f"{no_match} Clear filters"]]


# --- who owes what, and how many ------------------------------------------------------------------


def test_the_customer_list_shows_who_owes_what_and_sorts_by_days_overdue(support_client, db):
    today = timezone.localdate()
    late = CustomerFactory(customer_id="c-late", full_name="Late Payer")
    PlanFactory(customer=late, total_amount=Decimal("3000000.00"), installment_count=3, start_date=today)
    late.installments.filter(number=1).update(due_date=today - datetime.timedelta(days=12))
    PlanFactory(customer=CustomerFactory(customer_id="c-fine"), total_amount=Decimal("900.00"), installment_count=3)
    CustomerFactory(customer_id="c-none")
    check_overdue(as_of=today)

    rows = {cells[0]: cells for cells in table_rows(support_client.get("/customers/"))}

    assert rows["c-late"][6:9] == ["3,000,000.00 UZS", "1,000,000.00 UZS", "12"]
    assert rows["c-fine"][6:9] == ["900.00 UZS", "—", "—"]
    assert rows["c-none"][6:9] == ["0.00 UZS", "—", "—"]
    later = CustomerFactory(customer_id="c-later")
    PlanFactory(customer=later, total_amount=Decimal("300.00"), installment_count=3, start_date=today)
    later.installments.filter(number=1).update(due_date=today - datetime.timedelta(days=40))
    check_overdue(as_of=today)
    # (Where customers owing nothing go is the database's NULL order: last on PostgreSQL.)
    by_dpd = [cells[0] for cells in table_rows(support_client.get("/customers/", {"sort": "-dpd"}))]
    assert [customer for customer in by_dpd if customer in ("c-late", "c-later")] == ["c-later", "c-late"]
    by_dpd = [cells[0] for cells in table_rows(support_client.get("/customers/", {"sort": "dpd"}))]
    assert [customer for customer in by_dpd if customer in ("c-late", "c-later")] == ["c-late", "c-later"]


ACTOR = Actor.system("test")


def test_the_customer_list_sorts_by_what_is_owed_and_a_payment_moves_the_customer(support_client, db):
    today = timezone.localdate()
    for customer_id, total, late_days in (("o-small", "300.00", 0), ("o-big", "9000.00", 0), ("o-late", "600.00", 5)):
        customer = CustomerFactory(customer_id=customer_id)
        PlanFactory(customer=customer, total_amount=Decimal(total), installment_count=3, start_date=today)
        if late_days:
            customer.installments.filter(number=1).update(due_date=today - datetime.timedelta(days=late_days))
    check_overdue(as_of=today)

    def order(sort):
        return [cells[0] for cells in table_rows(support_client.get("/customers/", {"sort": sort}))]

    assert order("-outstanding") == ["o-big", "o-late", "o-small"]
    assert order("outstanding") == ["o-small", "o-late", "o-big"]
    assert order("-overdue_amount")[0] == "o-late"  # the only one overdue: 200.00
    # Paying 8,800.00 of o-big's 9,000.00 leaves it owing the least: the stored figure moved.
    ledger.record_payment(customer_id="o-big", amount="8800.00", reference="sort-1", method="cash", actor=ACTOR)
    assert order("-outstanding") == ["o-late", "o-small", "o-big"]
    assert table_rows(support_client.get("/customers/", {"sort": "outstanding"}))[0][6] == "200.00 UZS"
    # A sort column's header link offers the most owed first.
    assert 'href="?sort=-outstanding"' in html_of(support_client.get("/customers/"))


def test_the_result_count_is_exact_on_the_last_page_and_more_before(support_client, db):
    for n in range(5):
        CustomerFactory(customer_id=f"cnt-{n}")

    def count(**query):
        return re.search(
            r'<p class="result-count muted small">([^<]+)</p>', html_of(support_client.get("/customers/", query))
        ).group(1)

    assert count() == "5 customers"
    assert count(per_page=2) == "Customers 1 to 2 of more"
    assert count(per_page=2, page=3) == "Customers 5 to 5 of 5"
    assert count(q="cnt-3") == "1 customer"
