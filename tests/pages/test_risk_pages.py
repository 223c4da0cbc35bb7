"""Risk review, status override and the audited PII reveal, through HTTP."""

import datetime
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.collection.portfolio import bucket_of
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans.schedule import due_dates
from bnpl_admin.plans.services import check_overdue
from tests.factories import CustomerFactory, PlanFactory
from tests.pages import (
    HTMX,
    assert_fragment,
    assert_refused,
    csv_rows,
    first_column,
    html_of,
    is_login_redirect,
    table_rows,
)
from tests.pages.conftest import RAW_CARD, RAW_PASSPORT, RAW_PHONE

pytestmark = pytest.mark.django_db

STATUS_URL = "/customers/usr-001/status/"
PII = {"phone_number": RAW_PHONE, "passport_number": RAW_PASSPORT, "card_number": RAW_CARD}
# A revealed value as printed on the card or written by hand.
PRINTED = {"phone_number": "+998 90 123 45 67", "passport_number": "AA1234567", "card_number": "4111 1111 1111 1111"}


def reveal_url(field, customer_id="usr-001") -> str:
    return f"/customers/{customer_id}/reveal/{field}/"


def _in_debt(customer_id, *, days_ago, total, count):
    """A customer whose plan started `days_ago`: every installment due before today is overdue."""
    customer = CustomerFactory(customer_id=customer_id)
    start = timezone.localdate() - datetime.timedelta(days=days_ago)
    PlanFactory(customer=customer, total_amount=Decimal(total), installment_count=count, start_date=start)
    return start


def _expected(start, total, count):
    """(total overdue, overdue count, days overdue) for a plan of equal installments."""
    today = timezone.localdate()
    overdue = [due for due in due_dates(start, count) if due < today]
    share = Decimal(total) / count
    return share * len(overdue), len(overdue), (today - overdue[0]).days


@pytest.fixture
def debtors(db):
    """Three DEBT_USER customers and a NORMAL one; total and days overdue order them differently."""
    plans = {
        "usr-a": (100, "600.00", 3),  # 3 overdue: 600.00, ~100 days
        "usr-b": (40, "900.00", 3),  # 1 overdue: 300.00, ~10 days
        "usr-c": (65, "2000.00", 4),  # 2 overdue: 1,000.00, ~35 days
    }
    starts = {cid: _in_debt(cid, days_ago=d, total=t, count=n) for cid, (d, t, n) in plans.items()}
    CustomerFactory(customer_id="usr-fine")
    PlanFactory(customer=Customer.objects.get(customer_id="usr-fine"))
    check_overdue(as_of=timezone.localdate())
    return {cid: _expected(starts[cid], total, count) for cid, (_, total, count) in plans.items()}


# --- permissions -------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login_from_every_risk_page(client_for, aziz):
    browser = client_for("anonymous")

    assert is_login_redirect(browser.get("/risk/"), "/risk/")
    assert is_login_redirect(browser.get(STATUS_URL), STATUS_URL)
    assert is_login_redirect(browser.post(STATUS_URL, {"status": "DEBT_USER", "reason": "x"}), STATUS_URL)
    assert is_login_redirect(browser.post(reveal_url("phone_number")), reveal_url("phone_number"))
    aziz.refresh_from_db()
    assert aziz.status == Customer.Status.NORMAL
    assert not AuditEvent.objects.filter(action__in=["customer.pii_revealed", "customer.status_changed"]).exists()


@pytest.mark.parametrize("role", ["nobody", "support"])
def test_users_without_the_risk_role_get_the_no_access_page_everywhere(client_for, aziz, role):
    browser = client_for(role)

    assert_refused(browser.get("/risk/"))
    assert_refused(browser.get("/risk/", {"_export": "csv"}))
    assert_refused(browser.get(STATUS_URL))
    assert_refused(browser.post(STATUS_URL, {"status": "DEBT_USER", "reason": "Because"}))
    for field in PII:
        assert_refused(browser.post(reveal_url(field)))
        assert_refused(browser.post(reveal_url(field), headers=HTMX))
    aziz.refresh_from_db()
    assert aziz.status == Customer.Status.NORMAL
    assert not AuditEvent.objects.filter(action__in=["customer.pii_revealed", "customer.status_changed"]).exists()


@pytest.mark.parametrize("role", ["risk", "admin"])
def test_risk_officers_and_superusers_can_open_every_risk_page(client_for, aziz, role):
    browser = client_for(role)

    assert browser.get("/risk/").status_code == 200
    assert browser.get(STATUS_URL).status_code == 200
    assert browser.post(reveal_url("phone_number"), headers=HTMX).status_code == 200


# --- risk review -------------------------------------------------------------------------------


def test_risk_review_lists_only_debt_users_with_their_overdue_figures(risk_client, debtors):
    response = risk_client.get("/risk/")

    rows = {cells[0]: cells for cells in table_rows(response)}
    assert set(rows) == {"usr-a", "usr-b", "usr-c"}
    for customer_id, (total, count, days) in debtors.items():
        _, _name, _phone, shown_total, shown_count, _oldest, shown_days, shown_bucket = rows[customer_id]
        assert shown_total == f"{total:,.2f} UZS"
        assert shown_count == str(count)
        assert shown_days == str(days)
        assert shown_bucket == bucket_of(days)
    assert [debtors[c][1] for c in ("usr-a", "usr-b", "usr-c")] == [3, 1, 2]


def test_risk_review_shows_the_longest_overdue_first_by_default(risk_client, debtors):
    assert first_column(risk_client.get("/risk/")) == ["usr-a", "usr-c", "usr-b"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("days_overdue", ["usr-b", "usr-c", "usr-a"]),
        ("-days_overdue", ["usr-a", "usr-c", "usr-b"]),
        ("total_overdue", ["usr-b", "usr-a", "usr-c"]),
        ("-total_overdue", ["usr-c", "usr-a", "usr-b"]),
    ],
)
def test_risk_review_sorts_by_days_and_by_total_overdue_both_ways(risk_client, debtors, sort, expected):
    response = risk_client.get("/risk/", {"sort": sort})

    assert first_column(response) == expected
    days = [int(cells[6]) for cells in table_rows(response)]
    totals = [Decimal(cells[3].replace(",", "").removesuffix(" UZS")) for cells in table_rows(response)]
    if sort.endswith("days_overdue"):
        assert days == sorted(days, reverse=sort.startswith("-"))
    else:
        assert totals == sorted(totals, reverse=sort.startswith("-"))


def test_risk_review_htmx_request_returns_only_the_table(risk_client, debtors):
    response = risk_client.get("/risk/", {"sort": "total_overdue"}, headers=HTMX)

    html = assert_fragment(response)
    assert first_column(html) == ["usr-b", "usr-a", "usr-c"]


def test_risk_review_search_narrows_the_list(risk_client, debtors):
    assert first_column(risk_client.get("/risk/", {"q": "usr-c"})) == ["usr-c"]


def test_risk_review_csv_export_has_the_figures(risk_client, debtors):
    response = risk_client.get("/risk/", {"_export": "csv"})

    assert response["Content-Type"].startswith("text/csv")
    rows = {row["Customer ID"]: row for row in csv_rows(response)}
    assert set(rows) == {"usr-a", "usr-b", "usr-c"}
    total, count, days = debtors["usr-c"]
    assert Decimal(rows["usr-c"]["Total overdue"]) == total
    assert rows["usr-c"]["Overdue installments"] == str(count)
    assert rows["usr-c"]["Days overdue"] == str(days)


def test_risk_review_lists_a_debt_user_set_by_hand_without_overdue_figures(risk_client, debtors):
    CustomerFactory(customer_id="usr-manual", status=Customer.Status.DEBT_USER)

    for sort in ("", "total_overdue", "-total_overdue", "days_overdue"):
        response = risk_client.get("/risk/", {"sort": sort} if sort else {})
        assert response.status_code == 200
        assert "usr-manual" in first_column(response)


def test_risk_review_shows_masked_phones_only(risk_client, aziz):
    Customer.objects.filter(pk=aziz.pk).update(status=Customer.Status.DEBT_USER)

    html = html_of(risk_client.get("/risk/"))

    assert "+998****4567" in html
    assert RAW_PHONE not in html and RAW_PHONE[1:] not in html


# --- status override ---------------------------------------------------------------------------


def test_the_status_override_form_asks_for_a_status_and_a_reason(risk_client, aziz):
    html = html_of(risk_client.get(STATUS_URL))

    assert 'name="status"' in html and 'name="reason"' in html


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_status_override_without_a_reason_is_a_form_error_and_changes_nothing(risk_client, aziz, reason):
    response = risk_client.post(STATUS_URL, {"status": "DEBT_USER", "reason": reason})

    assert response.status_code == 200
    assert 'class="field-error"' in html_of(response)
    aziz.refresh_from_db()
    assert aziz.status == Customer.Status.NORMAL
    assert not AuditEvent.objects.filter(action="customer.status_changed").exists()


def test_a_status_override_to_an_unknown_status_is_a_form_error(risk_client, aziz):
    response = risk_client.post(STATUS_URL, {"status": "VIP", "reason": "Because"})

    assert response.status_code == 200
    assert 'class="field-error"' in html_of(response)
    aziz.refresh_from_db()
    assert aziz.status == Customer.Status.NORMAL


def test_a_status_override_with_a_reason_changes_the_status_and_audits_the_reason(risk_client, aziz):
    response = risk_client.post(STATUS_URL, {"status": "DEBT_USER", "reason": "Fraud suspicion, case 77"})

    aziz.refresh_from_db()
    assert response.status_code == 302 and response.url == "/customers/usr-001/"
    assert aziz.status == Customer.Status.DEBT_USER
    event = AuditEvent.objects.get(action="customer.status_changed")
    assert event.actor_user == risk_client.user and event.customer_ref == "usr-001"
    assert event.data["from"] == "NORMAL" and event.data["to"] == "DEBT_USER"
    assert "Fraud suspicion, case 77" in event.data["reason"]
    profile = html_of(risk_client.get(response.url))
    assert "Status of usr-001 set to Debt user." in profile
    assert "Fraud suspicion, case 77" in profile.split('id="timeline-title"', 1)[1]


@pytest.mark.parametrize("role", ["risk", "admin"])
def test_a_status_override_can_return_a_debt_user_to_normal(client_for, aziz, role):
    Customer.objects.filter(pk=aziz.pk).update(status=Customer.Status.DEBT_USER)

    client_for(role).post(STATUS_URL, {"status": "NORMAL", "reason": "Paid in cash at the branch"})

    aziz.refresh_from_db()
    assert aziz.status == Customer.Status.NORMAL
    assert AuditEvent.objects.get(action="customer.status_changed").data["to"] == "NORMAL"


def test_a_status_override_of_an_unknown_customer_is_a_404(risk_client, db):
    response = risk_client.post("/customers/usr-nobody/status/", {"status": "NORMAL", "reason": "x"})

    assert response.status_code == 404


# --- PII reveal --------------------------------------------------------------------------------


def test_the_pii_reveal_is_post_only(risk_client, aziz):
    response = risk_client.get(reveal_url("phone_number"))

    assert response.status_code == 405
    assert not AuditEvent.objects.filter(action="customer.pii_revealed").exists()


@pytest.mark.parametrize(("field", "printed"), list(PRINTED.items()))
def test_an_htmx_reveal_returns_the_value_as_printed_as_a_fragment_never_cached(risk_client, aziz, field, printed):
    response = risk_client.post(reveal_url(field), headers=HTMX)

    html = assert_fragment(response, '<span id="pii-')
    assert f'<code class="revealed">{printed}</code>' in html
    assert "no-store" in response["Cache-Control"]


def test_an_htmx_reveal_can_be_hidden_and_shows_on_the_timeline_at_once(risk_client, aziz):
    html = html_of(risk_client.post(reveal_url("card_number"), headers=HTMX))

    assert re.search(
        r'<button type="button" class="small" data-hide-pii aria-controls="pii-card_number">Hide</button>', html
    )
    # What Hide puts back: the masked value and the Reveal form, as the profile had them.
    hidden = re.search(r"<template>(.*?)</template>", html, re.S).group(1)
    assert "<code>4111 **** **** 1111</code>" in hidden and "4111 1111 1111 1111" not in hidden
    assert 'hx-post="/customers/usr-001/reveal/card_number/"' in hidden and "csrfmiddlewaretoken" in hidden
    timeline = re.search(r'<div id="timeline" hx-swap-oob="true">(.*?)</div>', html, re.S).group(1)
    assert "customer.pii_revealed" in timeline and "Card number revealed" in timeline
    assert "4111 1111 1111 1111" not in timeline and RAW_CARD not in timeline


def test_a_reveal_without_htmx_renders_a_page_with_the_value(risk_client, aziz):
    response = risk_client.post(reveal_url("card_number"))
    html = html_of(response)

    assert response.status_code == 200
    assert "<html" in html and PRINTED["card_number"] in html and "data-hide-pii" not in html
    assert 'href="/customers/usr-001/"' in html
    assert "no-store" in response["Cache-Control"]


def test_a_reveal_writes_an_audit_event_naming_the_field_but_not_the_value(risk_client, aziz):
    risk_client.post(reveal_url("passport_number"), headers=HTMX)

    event = AuditEvent.objects.get(action="customer.pii_revealed")
    assert event.data == {"field": "passport_number"}
    assert event.actor_user == risk_client.user
    assert event.customer_ref == "usr-001" and event.target_id == "usr-001"
    assert RAW_PASSPORT not in str(event.data)


def test_every_reveal_is_audited_separately(risk_client, aziz):
    for _ in range(2):
        risk_client.post(reveal_url("phone_number"), headers=HTMX)

    assert AuditEvent.objects.filter(action="customer.pii_revealed").count() == 2


def test_a_reveal_appears_in_the_profile_timeline_without_the_value(risk_client, aziz):
    risk_client.post(reveal_url("phone_number"), headers=HTMX)

    profile = html_of(risk_client.get("/customers/usr-001/"))
    timeline = profile.split('id="timeline-title"', 1)[1]

    assert 'title="customer.pii_revealed">Personal data revealed' in timeline and "Phone number revealed" in timeline
    assert risk_client.user.username in timeline
    assert RAW_PHONE not in profile and RAW_PHONE[1:] not in profile


@pytest.mark.parametrize("field", ["email", "phone_encrypted", "full_name", "__class__"])
def test_revealing_an_unknown_field_is_a_404_and_not_audited(risk_client, aziz, field):
    response = risk_client.post(reveal_url(field))

    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="customer.pii_revealed").exists()


def test_revealing_for_an_unknown_customer_is_a_404_and_not_audited(risk_client, db):
    response = risk_client.post(reveal_url("phone_number", customer_id="usr-nobody"))

    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="customer.pii_revealed").exists()


def test_a_reveal_without_the_csrf_token_is_refused(aziz, risk_client):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(risk_client.user)

    response = browser.post(reveal_url("phone_number"))

    assert response.status_code == 403
    assert RAW_PHONE not in html_of(response)
    assert not AuditEvent.objects.filter(action="customer.pii_revealed").exists()
