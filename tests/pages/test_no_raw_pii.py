"""No page shows a raw phone, card or passport number (DESIGN: Masking).

Demo data is seeded, every customer's raw values are recovered by decrypting their columns, and
every page is crawled as support, risk and admin, the collections queue and case pages included
(where risk and admin also type a note holding a customer's raw phone and card number, which must
be stored and shown masked). The PII reveal endpoint is the one place that may show a raw value;
it is not part of the crawl.
"""

import io
import re
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.collection.models import Case, CaseNote
from bnpl_admin.customers.encryption import decrypt
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans.models import Installment, Payment, Plan
from bnpl_admin.refunds.models import Refund
from tests.pages import HTMX, text_of, token_of

pytestmark = pytest.mark.django_db

CUSTOMERS = 40
SAMPLE = 5  # customers (plans, payments) whose action pages (plan, refund, payment, reversal, cancel) are crawled too


@pytest.fixture
def seeded(db):
    """Seed the demo data; the raw PII of every customer, recovered by decryption."""
    call_command("seed_demo", "--customers", str(CUSTOMERS), stdout=io.StringIO(), stderr=io.StringIO())
    raw = {}
    for customer in Customer.objects.all():
        phone = decrypt(customer.phone_encrypted)
        raw[customer.customer_id] = {
            phone,
            phone.lstrip("+"),
            decrypt(customer.card_encrypted),
            decrypt(customer.passport_encrypted),
        } - {""}
    assert len(raw) >= CUSTOMERS
    return raw


def _spaced(phone: str) -> str:
    """`+998901234567` as an agent types it: `+998 90 123 45 67`."""
    digits = phone.lstrip("+")
    return f"+{digits[:3]} {digits[3:5]} {digits[5:8]} {digits[8:10]} {digits[10:]}"


def _crawl(browser: Client, raw_by_customer: dict[str, set[str]]) -> dict[str, str]:
    """GET (and a review POST) every page this role can reach; URL -> body."""
    bodies = {}

    def visit(url, data=None, *, method="get", headers=None):
        response = getattr(browser, method)(url, data or {}, headers=headers or {}, follow=True)
        assert response.status_code in (200, 403), (url, response.status_code)
        key = f"{method.upper()} {url} {data or ''} {'htmx' if headers else ''}"
        bodies[key] = text_of(response)
        return response

    customer_ids = sorted(raw_by_customer)
    someone = Customer.objects.get(customer_id=customer_ids[3])
    phone = decrypt(someone.phone_encrypted)

    visit("/customers/")
    visit("/customers/", {"page": 2})
    visit("/customers/", {"status": "DEBT_USER"})
    visit("/customers/", {"q": someone.full_name.split()[0]})
    visit("/customers/", {"q": "usr-00"})
    found = visit("/customers/", {"q": _spaced(phone)})
    assert someone.customer_id in found.content.decode()
    visit("/customers/", {"sort": "-full_name"}, headers=HTMX)
    visit("/customers/", {"_export": "csv"})
    visit("/customers/", {"status": "DEBT_USER", "_export": "csv"})
    for customer_id in customer_ids:
        visit(f"/customers/{customer_id}/")
    visit("/risk/")
    visit("/risk/", {"sort": "total_overdue"}, headers=HTMX)
    visit("/risk/", {"_export": "csv"})
    visit("/audit/")
    visit("/audit/", {"_export": "csv"})
    visit("/collections/")
    visit("/collections/", {"view": "unassigned", "bucket": "90+"})
    visit("/collections/", {"view": "mine", "sort": "-dpd"}, headers=HTMX)
    visit("/health/")

    # Each open case's page; on one, a note typed with a customer's raw phone and card number (stored
    # masked), then that case page and the profile that shows the case again.
    cases = list(Case.objects.filter(status=Case.Status.OPEN).select_related("customer").order_by("pk"))
    assert cases, "the seed opened no collection case"
    for case in cases:
        visit(f"/collections/{case.pk}/")
    first = cases[0]
    page = visit(f"/collections/{first.pk}/")
    if page.status_code == 200:
        card = decrypt(someone.card_encrypted)
        visit(
            f"/collections/{first.pk}/notes/",
            {"text": f"Called {_spaced(phone)}; pays from card {card}", "token": token_of(page)},
            method="post",
        )
        visit(f"/collections/{first.pk}/")
    visit(f"/customers/{first.customer.customer_id}/")

    for customer_id in customer_ids[:SAMPLE]:
        visit(f"/customers/{customer_id}/plans/new/")
        visit(f"/customers/{customer_id}/plans/new/", {"total_amount": "1000.00", "installment_count": 4}, headers=HTMX)
        issue = visit(f"/customers/{customer_id}/refunds/new/")
        if issue.status_code == 200:
            visit(
                f"/customers/{customer_id}/refunds/new/",
                {
                    "transaction_id": f"crawl-{customer_id}",
                    "amount": "10.00",
                    "token": token_of(issue),
                    "step": "review",
                },
                method="post",
            )
        visit(f"/customers/{customer_id}/status/")
        visit(f"/customers/{customer_id}/payments/new/")
        visit(f"/customers/{customer_id}/payments/new/", {"amount": "10.00", "plan": ""}, headers=HTMX)
    for installment in Installment.objects.exclude(status="PAID").order_by("pk")[:SAMPLE]:
        visit(f"/installments/{installment.pk}/pay/")
    for installment in Installment.objects.filter(status="PAID").order_by("pk")[:2]:
        visit(f"/installments/{installment.pk}/pay/")
    for refund in Refund.objects.order_by("transaction_id")[:SAMPLE]:
        visit(f"/refunds/{refund.pk}/cancel/")
    payments = Payment.objects.order_by("reference")[:SAMPLE]
    assert payments, "the seed posted no payment"
    for payment in payments:
        visit(f"/payments/{payment.pk}/reverse/")
    for plan in Plan.objects.order_by("pk")[:SAMPLE]:
        visit(f"/plans/{plan.pk}/cancel/")
    return bodies


@pytest.mark.parametrize("username", ["support", "risk", "admin"])
def test_no_page_shows_a_raw_phone_card_or_passport_number(seeded, username):
    browser = Client()
    browser.force_login(get_user_model().objects.get(username=username))

    bodies = _crawl(browser, seeded)

    every_raw_value = set().union(*seeded.values())
    leaks = [(url, value) for url, body in bodies.items() for value in every_raw_value if value in body]
    assert not leaks, leaks[:10]
    # The crawl did see customer data: every profile was read, masked.
    profiles = [body for url, body in bodies.items() if re.match(r"GET /customers/usr-\d+/ ", url)]
    assert len(profiles) >= CUSTOMERS
    assert sum("****" in body for body in profiles) == len(profiles)


def test_support_gets_the_no_access_page_for_risk_review_and_the_audit_log_of_seeded_data(seeded):
    browser = Client()
    browser.force_login(get_user_model().objects.get(username="support"))

    assert browser.get("/risk/").status_code == 403
    assert browser.get("/audit/").status_code == 403
    assert browser.get("/collections/").status_code == 403


@pytest.mark.parametrize("username", ["risk", "admin"])
def test_a_note_typed_with_raw_numbers_is_kept_and_shown_masked(seeded, username):
    browser = Client()
    browser.force_login(get_user_model().objects.get(username=username))

    bodies = _crawl(browser, seeded)

    note = CaseNote.objects.get()
    assert note.masked and note.text.startswith("Called +998")
    assert any(note.text in unescape(body) for body in bodies.values())  # the case page showed it
    every_raw_value = set().union(*seeded.values())
    assert not [value for value in every_raw_value if value in note.text]


def test_no_audit_event_holds_a_raw_value_after_the_crawl(seeded):
    browser = Client()
    browser.force_login(get_user_model().objects.get(username="admin"))
    _crawl(browser, seeded)

    every_raw_value = set().union(*seeded.values())
    stored = [str(data) for data in AuditEvent.objects.values_list("data", flat=True)]
    assert not [value for value in every_raw_value if any(value in data for data in stored)]
