"""The customers list and the customer profile, through HTTP, for every role."""

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers.models import Customer
from bnpl_admin.customers.services import create_customer
from bnpl_admin.plans.models import Installment
from bnpl_admin.plans.schedule import add_months
from bnpl_admin.plans.services import check_overdue
from bnpl_admin.refunds.models import Refund
from tests.factories import CustomerFactory, MerchantFactory, PlanFactory, RefundFactory
from tests.pages import (
    HTMX,
    assert_fragment,
    assert_refused,
    csv_rows,
    fact,
    first_column,
    html_of,
    is_login_redirect,
    rows_by_id,
    text_of,
)
from tests.pages.conftest import RAW_CARD, RAW_PASSPORT, RAW_PHONE

pytestmark = pytest.mark.django_db

RAW_VALUES = (RAW_PHONE, RAW_PHONE.lstrip("+"), RAW_CARD, RAW_PASSPORT)


def _customer(customer_id, full_name, phone, status=Customer.Status.NORMAL):
    customer = create_customer(
        customer_id=customer_id,
        full_name=full_name,
        phone_number=phone,
        passport_number="AC7654321",
        card_number="8600123412341234",
        date_of_birth=None,
        actor=Actor.system("test"),
    )
    if status != Customer.Status.NORMAL:
        Customer.objects.filter(pk=customer.pk).update(status=status)
    return customer


@pytest.fixture
def people(aziz):
    """Four customers: two NORMAL, two DEBT_USER, with different ids, names and phones."""
    _customer("usr-002", "Bobur Aliyev", "+998911112233", Customer.Status.DEBT_USER)
    _customer("usr-010", "Dilnoza Karimova", "+998935556677")
    _customer("usr-011", "Sardor Tursunov", "+998901234568", Customer.Status.DEBT_USER)
    return aziz


# --- permissions and navigation -----------------------------------------------------------------

CUSTOMER_PAGES = ["/customers/", "/customers/usr-001/"]


@pytest.mark.parametrize("url", CUSTOMER_PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(client_for, aziz, url):
    response = client_for("anonymous").get(url)

    assert is_login_redirect(response, url)


@pytest.mark.parametrize("url", CUSTOMER_PAGES)
def test_a_signed_in_user_without_a_role_gets_the_no_access_page(client_for, aziz, url):
    assert_refused(client_for("nobody").get(url))


@pytest.mark.parametrize("role", ["support", "risk", "admin"])
@pytest.mark.parametrize("url", CUSTOMER_PAGES)
def test_every_role_can_open_the_customer_pages(client_for, aziz, role, url):
    response = client_for(role).get(url)

    assert response.status_code == 200
    assert "Aziz Karimov" in html_of(response)


@pytest.mark.parametrize("role", ["support", "risk"])
def test_home_redirects_a_signed_in_agent_to_customers(client_for, role):
    response = client_for(role).get("/")

    assert response.status_code == 302 and response.url == "/customers/"


def test_the_login_page_renders(client_for):
    response = client_for("anonymous").get("/accounts/login/")

    assert response.status_code == 200 and "Sign in" in html_of(response)


def test_support_navigation_shows_customers_only(support_client):
    html = html_of(support_client.get("/customers/"))

    assert 'href="/customers/"' in html
    assert "Risk review" not in html and 'href="/risk/"' not in html
    assert "Audit log" not in html and 'href="/audit/"' not in html
    assert 'class="role role-support"' in html


def test_risk_navigation_shows_risk_review_and_audit_log(risk_client):
    html = html_of(risk_client.get("/customers/"))

    assert '<a href="/risk/"' in html and "Risk review" in html
    assert '<a href="/audit/"' in html and "Audit log" in html
    assert 'class="role role-risk"' in html


def test_superuser_navigation_shows_every_section_and_admin(superuser_client):
    html = html_of(superuser_client.get("/customers/"))

    for link in ('href="/customers/"', 'href="/risk/"', 'href="/audit/"', 'href="/admin/"'):
        assert link in html


def test_the_no_access_page_keeps_the_navigation_of_the_signed_in_user(client_for, aziz):
    response = client_for("support").get("/risk/")

    assert_refused(response)
    assert 'href="/customers/"' in html_of(response) and 'href="/risk/"' not in html_of(response)


# --- customers list ----------------------------------------------------------------------------


def test_the_list_filters_by_status(support_client, people):
    response = support_client.get("/customers/", {"status": "DEBT_USER"})

    assert first_column(response) == ["usr-002", "usr-011"]


def test_the_list_filters_normal_customers(support_client, people):
    response = support_client.get("/customers/", {"status": "NORMAL"})

    assert first_column(response) == ["usr-001", "usr-010"]


def test_an_unknown_status_filter_is_a_form_error_not_a_500(support_client, people):
    response = support_client.get("/customers/", {"status": "BOGUS"})

    assert response.status_code == 200


def test_search_by_customer_id_prefix(support_client, people):
    response = support_client.get("/customers/", {"q": "usr-01"})

    assert first_column(response) == ["usr-010", "usr-011"]


def test_search_by_exact_customer_id(support_client, people):
    response = support_client.get("/customers/", {"q": "usr-002"})

    assert first_column(response) == ["usr-002"]


def test_search_by_part_of_the_name_ignores_case(support_client, people):
    response = support_client.get("/customers/", {"q": "karim"})

    assert first_column(response) == ["usr-001", "usr-010"]


@pytest.mark.parametrize("typed", ["+998 90 123-45-67", "+998901234567", "+998 (90) 123 45 67", "998901234567"])
def test_search_by_the_exact_phone_as_typed_finds_the_customer_through_the_lookup_hash(support_client, people, typed):
    response = support_client.get("/customers/", {"q": typed}, follow=True)

    # The number never stays in the URL: it is swapped for its lookup hash.
    assert response.redirect_chain and "ph=" in response.redirect_chain[0][0]
    # usr-011's phone differs in the last digit only: an exact match, not a prefix.
    assert first_column(response) == ["usr-001"]


def test_search_by_a_phone_nobody_has_finds_nothing(support_client, people):
    response = support_client.get("/customers/", {"q": "+998 99 000-00-00"}, follow=True)

    assert response.status_code == 200
    assert "usr-0" not in html_of(response).split('id="table"', 1)[1]
    assert 'href="/customers/usr-001/"' not in html_of(response)


def test_a_phone_search_keeps_the_number_out_of_the_url_and_the_page(support_client, aziz):
    response = support_client.get("/customers/", {"q": "+998 90 123-45-67"})

    assert response.status_code == 302
    assert "ph=" in response.url and "998" not in response.url
    html = html_of(support_client.get(response.url))
    assert "usr-001" in html
    assert "901234567" not in html


def test_a_phone_search_through_htmx_pushes_a_url_without_the_number(support_client, aziz):
    response = support_client.post("/customers/", {"q": RAW_PHONE, "sort": "full_name"}, headers=HTMX)

    html = html_of(response)
    assert response.status_code == 200
    assert "usr-001" in html
    assert "901234567" not in html and "901234567" not in response["HX-Push-Url"]
    assert "ph=" in response["HX-Push-Url"] and "sort=full_name" in response["HX-Push-Url"]


def test_the_search_form_posts_and_is_answered_with_the_equivalent_url(support_client, aziz):
    by_name = support_client.post("/customers/", {"q": "Aziz", "status": "NORMAL"})
    by_phone = support_client.post("/customers/", {"q": "+998 90 123 45 67"})

    assert by_name.status_code == 302 and by_name.url == "/customers/?q=Aziz&status=NORMAL"
    assert by_phone.status_code == 302 and by_phone.url.startswith("/customers/?ph=")
    assert "usr-001" in html_of(support_client.get(by_phone.url))


def test_search_and_status_filter_combine(support_client, people):
    response = support_client.get("/customers/", {"q": "usr-01", "status": "DEBT_USER"})

    assert first_column(response) == ["usr-011"]


def test_the_list_sorts_by_name_ascending_and_descending(support_client, people):
    ascending = first_column(support_client.get("/customers/", {"sort": "full_name"}))
    descending = first_column(support_client.get("/customers/", {"sort": "-full_name"}))

    # Aziz Karimov, Bobur Aliyev, Dilnoza Karimova, Sardor Tursunov
    assert ascending == ["usr-001", "usr-002", "usr-010", "usr-011"]
    assert descending == list(reversed(ascending))


def test_page_two_keeps_the_filter_and_shows_the_rest(support_client, db):
    for n in range(30):
        status = Customer.Status.DEBT_USER if n % 3 == 0 else Customer.Status.NORMAL
        CustomerFactory(customer_id=f"usr-{n:03d}", status=status)
    for n in range(30, 60):
        CustomerFactory(customer_id=f"usr-{n:03d}", status=Customer.Status.DEBT_USER)
    debt_ids = sorted(Customer.objects.filter(status="DEBT_USER").values_list("customer_id", flat=True))

    first = support_client.get("/customers/", {"status": "DEBT_USER"})
    second = support_client.get("/customers/", {"status": "DEBT_USER", "page": 2})

    assert len(debt_ids) == 40
    assert first_column(first) == debt_ids[:25]
    assert first_column(second) == debt_ids[25:]
    next_link = re.search(r'<a class="button" rel="next" href="([^"]+)"', html_of(first)).group(1)
    assert "status=DEBT_USER" in next_link and "page=2" in next_link


def test_pages_are_served_without_counting_the_whole_table(support_client, db, django_assert_max_num_queries):
    for n in range(30):
        _customer(f"usr-{n:03d}", f"Customer {n}", f"+99890{n:07d}")

    first = html_of(support_client.get("/customers/"))
    second = html_of(support_client.get("/customers/?page=2"))

    assert "usr-000" in first and "usr-024" in first and "usr-025" not in first
    assert "usr-025" in second and "usr-029" in second
    with django_assert_max_num_queries(12) as captured:
        support_client.get("/customers/?page=2")
    assert not any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)


def test_links_to_a_profile_are_not_swapped_into_the_table(support_client, aziz):
    table = html_of(support_client.get("/customers/")).split('id="table"', 1)[1]

    assert 'hx-boost="true"' in table  # sorting and paging
    assert table.count('hx-boost="true"') == table.count("<thead") + table.count('class="pagination"')


def test_an_htmx_search_returns_only_the_table_fragment_with_the_filtered_rows(support_client, people):
    response = support_client.get("/customers/", {"q": "karim", "sort": "-full_name"}, headers=HTMX)

    html = assert_fragment(response)
    assert first_column(html) == ["usr-010", "usr-001"]
    assert 'name="q"' not in html  # the search form is not part of the fragment


def test_csv_export_has_the_masked_values_and_applies_the_filter(support_client, people):
    response = support_client.get("/customers/", {"status": "NORMAL", "_export": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "customers.csv" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert [row["Customer ID"] for row in rows] == ["usr-001", "usr-010"]
    aziz = rows[0]
    assert aziz["Name"] == "Aziz Karimov"
    assert aziz["Phone"] == "+998****4567"
    assert aziz["Card"] == "4111 **** **** 1111"
    assert aziz["Passport"] == "AA*******"
    assert aziz["Status"] in ("NORMAL", "Normal")
    body = text_of(response)
    for raw in RAW_VALUES:
        assert raw not in body


def test_csv_export_applies_the_search_too(support_client, people):
    response = support_client.get("/customers/", {"q": "+998 90 123-45-67", "_export": "csv"}, follow=True)

    assert [row["Customer ID"] for row in csv_rows(response)] == ["usr-001"]


@pytest.mark.parametrize("role", ["support", "risk", "admin"])
def test_the_list_shows_masked_pii_and_never_the_raw_values(client_for, people, role):
    html = html_of(client_for(role).get("/customers/"))

    assert "usr-001" in html and "Aziz Karimov" in html
    assert "+998****4567" in html and "4111 **** **** 1111" in html and "AA*******" in html
    for raw in (*RAW_VALUES, "901234567", "1234567"):  # not even part of a number
        assert raw not in html


def test_the_list_shows_the_status_as_a_badge(support_client, people):
    html = html_of(support_client.get("/customers/", {"status": "DEBT_USER"}))

    assert '<span class="badge badge-debt_user">Debt user</span>' in html


# --- profile -----------------------------------------------------------------------------------


@pytest.fixture
def in_debt(aziz):
    """Aziz with a 1,000,000.00 plan in 3 started 75 days ago: two installments overdue."""
    today = timezone.localdate()
    start = today - datetime.timedelta(days=75)
    plan = PlanFactory(customer=aziz, total_amount=Decimal("1000000.00"), installment_count=3, start_date=start)
    check_overdue(as_of=today)
    aziz.refresh_from_db()
    return aziz, plan, start


def test_the_profile_shows_masked_personal_data_only(support_client, aziz):
    response = support_client.get("/customers/usr-001/")
    html = html_of(response)

    assert fact(response, "Phone").startswith("+998****4567")
    assert fact(response, "Card").startswith("4111 **** **** 1111")
    assert fact(response, "Passport").startswith("AA*******")
    for raw in RAW_VALUES:
        assert raw not in html


def test_the_profile_shows_the_status_badge(support_client, in_debt):
    html = html_of(support_client.get("/customers/usr-001/"))

    assert '<span class="badge badge-debt_user">Debt user</span>' in html.split("</h1>", 1)[0]


def test_the_profile_debt_summary_adds_up_the_overdue_installments(support_client, in_debt):
    customer, plan, start = in_debt
    today = timezone.localdate()
    first_due = add_months(start, 1)

    response = support_client.get("/customers/usr-001/")

    assert customer.status == Customer.Status.DEBT_USER
    assert Installment.objects.filter(plan=plan, status="OVERDUE").count() == 2
    assert fact(response, "Total overdue") == "666,666.67 UZS"  # 333,333.34 + 333,333.33
    assert fact(response, "Overdue installments") == "2"
    assert fact(response, "Oldest overdue") == f"{(today - first_due).days} days (due {first_due:%Y-%m-%d})"
    assert fact(response, "Outstanding") == "1,000,000.00 UZS"


def test_the_profile_debt_summary_of_a_customer_without_debt_is_zero(support_client, aziz):
    PlanFactory(customer=aziz, total_amount=Decimal("500.00"))

    response = support_client.get("/customers/usr-001/")

    assert fact(response, "Total overdue") == "0.00 UZS"
    assert fact(response, "Overdue installments") == "0"
    assert fact(response, "Oldest overdue") == "—"
    assert fact(response, "Outstanding") == "500.00 UZS"


def test_the_profile_lists_plans_with_their_installments(support_client, in_debt):
    _, plan, start = in_debt
    installments = list(plan.installments.order_by("number"))

    response = support_client.get("/customers/usr-001/")
    rows = rows_by_id(response)
    html = html_of(response)

    assert f'id="plan-{plan.pk}"' in html
    assert "1,000,000.00 UZS in 3 installments" in html
    # number, due, amount due, paid, refunded, remaining, status
    assert [rows[f"installment-{i.pk}"][:7] for i in installments] == [
        [
            "1",
            f"{add_months(start, 1):%Y-%m-%d}",
            "333,333.34 UZS",
            "0.00 UZS",
            "0.00 UZS",
            "333,333.34 UZS",
            "Overdue",
        ],
        [
            "2",
            f"{add_months(start, 2):%Y-%m-%d}",
            "333,333.33 UZS",
            "0.00 UZS",
            "0.00 UZS",
            "333,333.33 UZS",
            "Overdue",
        ],
        [
            "3",
            f"{add_months(start, 3):%Y-%m-%d}",
            "333,333.33 UZS",
            "0.00 UZS",
            "0.00 UZS",
            "333,333.33 UZS",
            "Upcoming",
        ],
    ]
    for installment in installments:
        assert f'href="/installments/{installment.pk}/pay/"' in html


def test_the_profile_shows_each_plan_with_its_own_installments_and_merchant_only(support_client, aziz):
    from tests.factories import MerchantFactory

    shop = MerchantFactory(name="Texnomart")
    older = PlanFactory(customer=aziz, total_amount=Decimal("300.00"), installment_count=2)
    newer = PlanFactory(customer=aziz, total_amount=Decimal("400.00"), installment_count=4, merchant=shop)
    other = PlanFactory(merchant=MerchantFactory(name="Elsewhere"), total_amount=Decimal("999.00"))

    html = html_of(support_client.get(f"/customers/{aziz.customer_id}/"))

    assert html.index(f'id="plan-{newer.pk}"') < html.index(f'id="plan-{older.pk}"')  # newest first
    for plan, count in ((older, 2), (newer, 4)):
        article = html[html.index(f'id="plan-{plan.pk}"') :].split("</article>")[0]
        assert article.count('id="installment-') == count
        for installment in plan.installments.all():
            assert f'id="installment-{installment.pk}"' in article
    assert "Texnomart" in html[html.index(f'id="plan-{newer.pk}"') :].split("</header>")[0]
    assert "Texnomart" not in html[html.index(f'id="plan-{older.pk}"') :].split("</header>")[0]
    assert "Elsewhere" not in html and str(other.pk) not in html


def test_the_profile_lists_refunds(support_client, aziz):
    plan = PlanFactory(customer=aziz)
    pending = RefundFactory(customer=aziz, plan=plan, transaction_id="txn-pending", amount=Decimal("50.00"))
    RefundFactory(
        customer=aziz,
        transaction_id="txn-approved",
        amount=Decimal("25.50"),
        status=Refund.Status.APPROVED,
        merchant_reference="MR-42",
    )
    RefundFactory(transaction_id="txn-someone-else")

    response = support_client.get("/customers/usr-001/")
    rows = rows_by_id(response)
    html = html_of(response)

    assert rows[f"refund-{pending.pk}"][:3] == ["txn-pending", "50.00 UZS", "Pending"]
    assert "txn-approved" in html and "25.50 UZS" in html and "MR-42" in html
    assert "txn-someone-else" not in html
    assert f'href="/refunds/{pending.pk}/cancel/"' in html  # only the PENDING one can be cancelled
    assert re.findall(r'href="/refunds/[^"]+/cancel/"', html) == [f'href="/refunds/{pending.pk}/cancel/"']


def test_the_profile_timeline_shows_the_customers_events_newest_first(support_client, aziz):
    now = timezone.now()
    for action, hours_ago in [("note.oldest", 3), ("note.newest", 1), ("note.middle", 2)]:
        AuditEvent.objects.create(
            at=now - datetime.timedelta(hours=hours_ago),
            actor_kind="staff",
            actor_label="agent-x",
            action=action,
            target_type="customer",
            target_id="usr-001",
            customer_ref="usr-001",
            data={"note": action},
        )
    AuditEvent.objects.create(
        at=now, actor_kind="system", actor_label="s", action="note.other", target_type="customer", customer_ref="x"
    )

    html = html_of(support_client.get("/customers/usr-001/")).split('id="timeline-title"', 1)[1]

    # customer.created was recorded just now, after the notes' (back-dated) times.
    assert html.index("customer.created") < html.index("note.newest")
    assert html.index("note.newest") < html.index("note.middle") < html.index("note.oldest")
    assert "note.other" not in html


def test_an_unknown_customer_is_a_404_with_the_project_page(support_client, db):
    response = support_client.get("/customers/usr-does-not-exist/")

    assert response.status_code == 404
    assert "Not found" in html_of(response)


def test_a_request_django_refuses_as_suspicious_gets_the_project_page(support_client, people):
    """A phone search with 20,000 characters of other parameters: the redirect to its lookup hash is
    longer than Django allows a redirect (16,384 characters): 400, which was Django's bare text."""
    response = support_client.get("/customers/", {"q": "+998901234567", "x": "y" * 20_000})

    assert response.status_code == 400
    assert "This request could not be handled" in html_of(response)
    assert "+998901234567" not in html_of(response)


def test_an_api_request_django_refuses_as_suspicious_is_json(support_client, db):
    response = support_client.get("/api/v1/users/", headers={"Host": "bad host"})

    assert response.status_code == 400
    assert response.json() == {"error": "Bad request"}


def test_each_refund_shows_its_merchant_without_a_query_per_refund(support_client, aziz):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    shop = MerchantFactory(code="shop", name="Shop Ltd")
    with_merchant = RefundFactory(customer=aziz, merchant=shop)
    without = RefundFactory(customer=aziz)
    support_client.get("/customers/usr-001/")  # the session and caches warm
    with CaptureQueriesContext(connection) as two_refunds:
        response = support_client.get("/customers/usr-001/")
    RefundFactory.create_batch(3, customer=aziz, merchant=MerchantFactory())
    with CaptureQueriesContext(connection) as five_refunds:
        support_client.get("/customers/usr-001/")

    rows = rows_by_id(response)
    assert rows[f"refund-{with_merchant.pk}"][5] == "Shop Ltd"
    assert rows[f"refund-{without.pk}"][5] == "—"
    assert len(five_refunds) == len(two_refunds)


def test_support_sees_plan_and_refund_actions_but_no_reveal_or_status_override(support_client, aziz):
    html = html_of(support_client.get("/customers/usr-001/"))

    assert 'href="/customers/usr-001/plans/new/"' in html
    assert 'href="/customers/usr-001/refunds/new/"' in html
    assert "/reveal/" not in html and "Reveal" not in html
    assert "/status/" not in html and "Status override" not in html


def test_risk_sees_reveal_buttons_and_the_status_override(risk_client, aziz):
    html = html_of(risk_client.get("/customers/usr-001/"))

    for field in ("phone_number", "passport_number", "card_number"):
        assert f'action="/customers/usr-001/reveal/{field}/"' in html
    assert 'action="/customers/usr-001/status/"' in html


@pytest.mark.parametrize("query", [{"page": 999}, {"page": "abc"}, {"sort": "phone_masked"}, {"sort": "phone_hash"}])
def test_odd_page_and_sort_parameters_do_not_break_the_list(support_client, people, query):
    response = support_client.get("/customers/", query)

    assert response.status_code in (200, 404)


def test_an_htmx_history_restore_gets_the_full_page(support_client, people):
    response = support_client.get("/customers/", headers={**HTMX, "HX-History-Restore-Request": "true"})

    assert response.status_code == 200
    assert "<html" in html_of(response)


def test_names_and_refund_reasons_are_html_escaped(support_client, aziz):
    Customer.objects.filter(pk=aziz.pk).update(full_name="<script>alert(1)</script>")
    RefundFactory(customer=aziz, reason="<img src=x onerror=alert(2)>")

    pages = [html_of(support_client.get(url)) for url in ("/customers/", "/customers/usr-001/")]

    for html in pages:
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in pages[1]


def test_the_profile_debt_summary_leaves_paid_installments_out(support_client, in_debt):
    from bnpl_admin.plans.ledger import pay_installments

    customer, plan, _ = in_debt
    paid = plan.installments.get(number=1)
    pay_installments(installment_ids=[paid.id], actor=Actor.system("test"))

    response = support_client.get("/customers/usr-001/")

    unpaid = Installment.objects.filter(customer=customer).exclude(status="PAID")
    assert len(unpaid) == 2
    assert fact(response, "Overdue installments") == "1"
    assert fact(response, "Total overdue") == "333,333.33 UZS"
    assert fact(response, "Outstanding") == f"{sum(i.amount_due for i in unpaid):,.2f} UZS"
