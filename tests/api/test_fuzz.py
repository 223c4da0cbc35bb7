"""Property-based fuzzing of the JSON API v1 against its own OpenAPI schema (schemathesis).

The schema is the app's own (`/api/v1/schema/?format=json`), and every operation is called in
process through the project's WSGI application, with requests that fit the schema and requests
that do not (schemathesis' positive and negative modes, and its coverage phase), as a risk officer
(who may do everything). Each response must: not be a 5xx, have a status code, content type and
body that the schema documents for the operation, and carry no raw PII.

A few customers (NORMAL and DEBT_USER), plans (with upcoming, overdue and paid installments),
refunds and payments are seeded, and one request in three is aimed at them (real customer, plan,
refund, payment and installment ids in place of the generated ones, payment references already
used or new, and well-formed phone, card, passport and amounts, which the schema cannot express),
so that success paths and their bodies are checked as well: payments recorded, replayed and in
conflict, reversed once and refused the second time, plans cancelled or refused for their payments,
notes (with a card number in them, which no answer may show unmasked) and promises added to an open
collection case, refused on a closed one or where there is none.

The number of requests sent is recorded per operation (user property `fuzz_requests`) and
summed at the end of the run by tests/api/conftest.py; run with `-s` to see it per operation.
"""

import datetime
import os
import time
from decimal import Decimal

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bnpl_admin.audit.services import Actor
from bnpl_admin.collection import services as collection_services
from bnpl_admin.collection.models import Case
from bnpl_admin.plans.ledger import pay_installments, record_payment
from bnpl_admin.plans.models import Installment
from bnpl_admin.plans.services import check_overdue
from bnpl_admin.refunds.models import Refund
from tests.api.conftest import PII_FIELDS, assert_no_raw_pii, bearer_client, raw_pii_in_database
from tests.factories import CustomerFactory, PlanFactory, RefundFactory, UserFactory

pytestmark = pytest.mark.django_db

# Hypothesis examples per operation. With the 19 operations this sends about 6,000 requests when
# every operation passes (fewer while one fails: Hypothesis stops at the first failure); the run
# prints the figures and the time. FUZZ_EXAMPLES=3000 digs ten times deeper (with the 11 operations
# before the ledger: 30,336 requests in 5.3 minutes on PostgreSQL; it found an id in a path too
# long to store).
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance)
AIM_EVERY = 3  # one request in AIM_EVERY uses real ids

SENT = {"requests": 0}


def _load_schema():
    """The app's own schema, fetched once at import through the WSGI application."""
    with override_settings(ALLOWED_HOSTS=["*"]):
        return schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", WSGIHandler())


schema = _load_schema()


@pytest.fixture
def in_test_transaction(settings):
    """WSGI requests that run inside this test's transaction, like Django's test client's.

    `close_old_connections` (connected to request_started/finished) would close the test's
    connection at each request's start and end; it is disconnected for the test. The schema's
    requests go to `localhost`.
    """
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


class Seeded:
    """The seeded objects' ids, and the raw PII that no response may show."""

    def __init__(self):
        today = timezone.localdate()
        actor = Actor.system("fuzz-seed")
        customers = [CustomerFactory(customer_id=f"usr-{n:03d}") for n in range(1, 6)]
        plans = [
            PlanFactory(customer=customers[0]),
            PlanFactory(customer=customers[1], start_date=today - datetime.timedelta(days=70)),
            PlanFactory(customer=customers[2], total_amount=Decimal("120.00"), installment_count=2),
            PlanFactory(customer=customers[3], total_amount=Decimal("999.99"), installment_count=12),
        ]
        check_overdue(actor=actor)  # customers[1] becomes DEBT_USER: an open collection case
        [open_case] = Case.objects.filter(customer=customers[1])
        collection_services.add_note(case_id=open_case.pk, text="Called, will pay", actor=actor)
        collection_services.add_promise(case_id=open_case.pk, amount="20.00", due_date=today, actor=actor)
        now = timezone.now()
        Case.objects.create(customer=customers[0], status=Case.Status.CLOSED, opened_at=now, closed_at=now)
        payments = [
            pay_installments(installment_ids=[plans[2].installments.get(number=1).pk], actor=actor).payment,
            record_payment(customer_id="usr-001", amount="50.00", reference="ref-1", actor=actor).payment,
            record_payment(customer_id="usr-002", amount="20.00", reference="ref-2", actor=actor).payment,
        ]
        refunds = [
            RefundFactory(customer=customers[0], plan=plans[0], transaction_id="txn-1", amount=Decimal("10.00")),
            RefundFactory(customer=customers[2], transaction_id="txn-2", status=Refund.Status.APPROVED),
            RefundFactory(customer=customers[3], transaction_id="txn-3", status=Refund.Status.PROCESSING),
        ]
        self.customer_ids = [c.customer_id for c in customers]
        self.plan_ids = [str(p.pk) for p in plans]
        self.plan_of = {p.customer.customer_id: str(p.pk) for p in plans}
        self.refund_ids = [str(r.pk) for r in refunds]
        self.payment_ids = [str(p.pk) for p in payments]
        # A case's operations go to the open case twice as often as to the closed one or to none.
        self.case_customer_ids = ["usr-002", "usr-002", "usr-001", "usr-003"]
        self.raw_pii = raw_pii_in_database()
        self.noted_cards: set[str] = set()  # card numbers put in notes: no answer may show them

    def card_in_note(self, n: int) -> str:
        card = f"8600 {n % 10000:04d} 5678 {n * 7 % 10000:04d}"
        self.noted_cards |= {card, card.replace(" ", "")}
        return f"fuzz {n}: pays with card {card} on Friday"

    def installment_ids_of(self, customer_id: str) -> list[int]:
        return list(
            Installment.objects.filter(customer__customer_id=customer_id)
            .exclude(status=Installment.Status.PAID)
            .values_list("pk", flat=True)[:3]
        ) or [1]

    def aim(self, case, n: int) -> None:
        """Put real ids in place of generated ones (where the case has such a field)."""
        customer_id = self.customer_ids[n % len(self.customer_ids)]
        if "/case/" in case.operation.path:
            customer_id = self.case_customer_ids[n % len(self.case_customer_ids)]
        if isinstance(case.path_parameters, dict) and case.path_parameters:
            params = dict(case.path_parameters)
            if "customer_id" in params:
                params["customer_id"] = customer_id
            if "plan_id" in params:
                params["plan_id"] = self.plan_ids[n % len(self.plan_ids)]
            if "refund_id" in params:
                params["refund_id"] = self.refund_ids[n % len(self.refund_ids)]
            if "payment_id" in params:
                params["payment_id"] = self.payment_ids[n % len(self.payment_ids)]
            case.path_parameters = params
        if isinstance(case.body, dict):
            body = dict(case.body)
            fresh = n % 2 == 0  # half new objects, half existing ones (duplicates and conflicts)
            if "user_id" in body:
                body["user_id"] = f"fz-{n}" if fresh and case.operation.path == "/api/v1/users/" else customer_id
            if "phone_number" in body:  # formats the schema does not express
                body.update(
                    phone_number=f"+99890{n:07d}",
                    passport_number=f"FZ{n:07d}",
                    card_number=f"5555{n:012d}",
                    date_of_birth="1985-12-31",
                )
            for money in ("total_amount", "amount"):
                if money in body:
                    body[money] = f"{n % 400 + 1}.{n % 100:02d}"
            if "transaction_id" in body:
                body["transaction_id"] = f"fz-{n}" if fresh else "txn-1"
            if "reference" in body:  # a new payment, or a replay of (or conflict with) usr-001's
                body["reference"] = f"fz-{n}" if fresh else "ref-1"
                body["amount"] = f"{n % 40 + 1}.{n % 100:02d}" if fresh else "50.00"
            if "reason" in body:
                body["reason"] = f"fuzz {n}"
            if "text" in body:
                body["text"] = self.card_in_note(n)
            if "due_date" in body:  # today to 99 days ahead: one in ten beyond the 90 days a promise may take
                body["due_date"] = (timezone.localdate() + datetime.timedelta(days=n % 100)).isoformat()
            if "installment_ids" in body:
                target = (case.path_parameters or {}).get("customer_id", customer_id)
                body["installment_ids"] = self.installment_ids_of(target)
            if "plan_id" in body:  # the customer's own plan, or none
                body["plan_id"] = self.plan_of.get(body.get("user_id"))
            case.body = body


@pytest.fixture
def seeded(db):
    return Seeded()


@pytest.fixture
def auth_headers(db):
    client = bearer_client(UserFactory.risk())
    return {"Authorization": client._credentials["HTTP_AUTHORIZATION"]}


@pytest.fixture
def counted(request):
    """Count this operation's requests; the figure goes to the test report (and the run summary)."""
    before = SENT["requests"]
    started = time.perf_counter()
    yield
    sent, seconds = SENT["requests"] - before, time.perf_counter() - started
    request.node.user_properties.append(("fuzz_requests", sent))
    request.node.user_properties.append(("fuzz_seconds", round(seconds, 2)))
    print(f"\n{request.node.name}: {sent} requests in {seconds:.1f} s")


def _sent_pii(case) -> set[str]:
    """The phone, card and passport values sent, to look for in the answer. Only values with four
    digits or more: a real one has them, while generated text such as "assport_num" is found in
    the answer's own field names ("passport_number") without having been echoed."""
    if not isinstance(case.body, dict):
        return set()
    sent = {str(case.body[f]).strip() for f in PII_FIELDS if f in case.body}
    return {value for value in sent if len(value) >= 8 and sum(c.isdigit() for c in value) >= 4}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same requests on every run: CI is reproducible
    database=None,  # no .hypothesis/ directory
    print_blob=True,
)
def test_every_operation_answers_as_its_schema_documents_and_never_with_a_5xx(
    case, in_test_transaction, seeded, auth_headers, counted
):
    SENT["requests"] += 1
    if SENT["requests"] % AIM_EVERY == 0:
        seeded.aim(case, SENT["requests"] // AIM_EVERY)

    response = case.call(headers=auth_headers)

    forbidden = seeded.raw_pii | seeded.noted_cards | _sent_pii(case)
    assert_no_raw_pii(response.content, also=forbidden, check_database=False)
    case.validate_response(response, checks=CHECKS)
