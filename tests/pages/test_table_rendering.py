"""What the tables show: sorting links that keep the filters, the risk figures, plain exported ids."""

import datetime
from unittest import mock

import pytest
from django.core.cache import caches
from django.core.cache.utils import make_template_fragment_key
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
