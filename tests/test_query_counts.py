"""Every page and API list runs the same number of queries whatever the number of rows (no N+1).

Each view is requested once to warm per-process caches (content types, the dashboard figures),
then counted with 26 customers and again with 51, each with a plan and a refund; a third of them
missed installments, so the risk review, debt status and profile have overdue rows to show, and the
profiled customer's plans and refunds triple in between. Page 2 of the API list grows from 6 to 20
rows: a column the serializer reads but the list query defers would show here as one query per row.
The CSV exports are read to their last row, in chunks of five rows, so a chunk or a row that queried
would show too.
"""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from bnpl_admin.api.services import issue_api_token
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers.models import Customer
from bnpl_admin.customers.selectors import phone_lookup_hash
from bnpl_admin.plans import ledger
from bnpl_admin.plans.models import Payment
from bnpl_admin.plans.services import check_overdue
from bnpl_admin.staff import exports
from tests.factories import CustomerFactory, PlanFactory, RefundFactory, UserFactory

PHONE = "+998901112233"
ACTOR = Actor.system("query-count-test")


def add_customers(count: int, *, start: int) -> None:
    today = timezone.localdate()
    for n in range(start, start + count):
        customer = CustomerFactory(customer_id=f"qc-{n:04d}")
        late = n % 3 == 0
        PlanFactory(customer=customer, start_date=today - datetime.timedelta(days=70 if late else 0))
        RefundFactory(customer=customer)
    check_overdue()


def add_to_profiled(customer) -> None:
    """The profiled customer gets another late plan (more installments, overdue ones), a refund, and
    a payment on the plan's first installment and another reversed (more payments, allocations).

    The customer is in debt after the first one, so the status is reset for the write (rule 1
    would refuse it) and the checker flips it back.
    """
    Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.NORMAL)
    plan = PlanFactory(customer=customer, start_date=timezone.localdate() - datetime.timedelta(days=70))
    RefundFactory(customer=customer)
    first, second = plan.installments.order_by("number")[:2]
    ledger.pay_installments(installment_ids=[first.pk], actor=ACTOR)
    mistaken = ledger.pay_installments(installment_ids=[second.pk], actor=ACTOR).payment
    ledger.reverse_payment(payment_id=mistaken.pk, reason="Mistaken", actor=ACTOR)
    check_overdue()


def page_urls(profiled) -> list[tuple[str, str, dict]]:
    cid = profiled.customer_id
    return [
        ("support", "/customers/", {}),
        ("support", "/customers/?status=DEBT_USER&sort=-created_at", {}),
        ("support", f"/customers/?ph={phone_lookup_hash(PHONE)}", {}),
        ("support", f"/customers/{cid}/", {}),
        ("risk", "/risk/", {}),
        ("support", "/health/", {"HTTP_HX_REQUEST": "true"}),
        ("api", "/api/v1/users/", {}),
        ("api", "/api/v1/users/?page=2", {}),
        ("api", "/api/v1/users/?after=qc-0003&page_size=5", {}),  # keyset
        ("api", f"/api/v1/debt/{cid}/", {}),
        # CSV exports, read to the end: every row, in chunks of 5 (see the test)
        ("support", "/customers/?_export=csv", {}),
        ("risk", "/risk/?_export=csv", {}),
        ("risk", "/audit/?_export=csv", {}),
    ]


def count_queries(clients, urls) -> dict[str, int]:
    counts = {}
    for who, url, headers in urls:
        clients[who].get(url, **headers)  # warm per-process caches
        with CaptureQueriesContext(connection) as queries:
            response = clients[who].get(url, **headers)
            if response.streaming:  # an export reads its rows as it is sent
                assert b"".join(response.streaming_content).count(b"\n") > 5, url
        assert response.status_code == 200, (url, response.status_code)
        counts[url] = len(queries)
    return counts


@pytest.mark.django_db
def test_queries_per_page_and_api_list_do_not_grow_with_rows(client, monkeypatch):
    monkeypatch.setattr(exports, "CHUNK_ROWS", 5)  # exports: more rows, more chunks, the same queries
    support, risk = UserFactory.support(), UserFactory.risk()
    pages_support, pages_risk = client, type(client)()
    pages_support.force_login(support)
    pages_risk.force_login(risk)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=risk)}")
    clients = {"support": pages_support, "risk": pages_risk, "api": api}

    profiled = CustomerFactory(customer_id="qc-profiled", phone_number=PHONE)
    add_to_profiled(profiled)
    add_customers(25, start=0)  # page 2 of the API list exists from the start
    small = count_queries(clients, page_urls(profiled))

    add_customers(25, start=100)
    add_to_profiled(profiled)
    add_to_profiled(profiled)
    large = count_queries(clients, page_urls(profiled))

    assert large == small
    assert Payment.objects.filter(customer=profiled).count() == 6  # the profile listed more payments
