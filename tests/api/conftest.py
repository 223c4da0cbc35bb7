"""Clients for the JSON API v1, one per role, that refuse any response carrying raw PII.

Every response any API test receives is checked: no raw phone, card or passport number of any
customer in the database (recovered by decrypting their columns), nor any PII value the request
itself sent, may appear in the body (DESIGN: Masking).
"""

import json
import re

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from bnpl_admin.api.services import issue_api_token
from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.customers.encryption import decrypt
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans.models import Installment, Payment, PaymentAllocation, Plan
from bnpl_admin.refunds.models import Refund
from tests.factories import UserFactory

PII_FIELDS = ("phone_number", "passport_number", "card_number")
MONEY = re.compile(r"^\d+\.\d{2}$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def raw_pii_in_database() -> set[str]:
    """Every customer's raw phone (with and without '+'), card and passport number."""
    values = set()
    for phone, card, passport in Customer.objects.values_list(
        "phone_encrypted", "card_encrypted", "passport_encrypted"
    ):
        raw_phone = decrypt(phone)
        values |= {raw_phone, raw_phone.lstrip("+"), decrypt(card), decrypt(passport)}
    return {value for value in values if len(value) >= 6}


def assert_no_raw_pii(content: bytes, *, also: set[str] = frozenset(), check_database: bool = True) -> None:
    """No raw PII in `content`: neither any customer's in the database nor the values in `also`."""
    text = content.decode("utf-8", errors="replace")
    forbidden = (raw_pii_in_database() if check_database else set()) | set(also)
    leaked = sorted(value for value in forbidden if value and value in text)
    assert not leaked, f"raw PII in a response body: {leaked}: {text[:500]}"


def _sent_pii(data) -> set[str]:
    """Raw PII values a request body carried (long enough not to match by chance)."""
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data or "null")
        except ValueError:
            return set()
    if not isinstance(data, dict):
        return set()
    return {str(data[field]).strip() for field in PII_FIELDS if field in data and len(str(data[field]).strip()) >= 8}


class PiiCheckingClient(APIClient):
    """An APIClient whose every response is checked for raw PII."""

    def generic(self, method, path, data="", content_type="application/octet-stream", secure=False, **extra):
        response = super().generic(method, path, data, content_type, secure=secure, **extra)
        if not getattr(response, "streaming", False):
            assert_no_raw_pii(response.content, also=_sent_pii(data))
        return response


def bearer_client(user=None, *, token: str | None = None) -> PiiCheckingClient:
    """A client sending `Authorization: Bearer <token>` (a fresh token for `user`, or `token` as given)."""
    client = PiiCheckingClient()
    if user is not None:
        token = issue_api_token(user=user)
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    client.user = user
    return client


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """Throttle counts live in a per-process cache (kept between tests)."""
    caches["throttle"].clear()
    yield
    caches["throttle"].clear()


@pytest.fixture
def support_user(db):
    return UserFactory.support()


@pytest.fixture
def risk_user(db):
    return UserFactory.risk()


@pytest.fixture
def support_client(support_user):
    return bearer_client(support_user)


@pytest.fixture
def risk_client(risk_user):
    return bearer_client(risk_user)


@pytest.fixture
def roleless_client(db):
    """A staff account in no role group: authenticated, allowed nothing."""
    return bearer_client(UserFactory())


@pytest.fixture
def anonymous_client(db):
    return bearer_client()


def assert_money(value) -> None:
    assert isinstance(value, str) and MONEY.match(value), f"not a 2-decimal money string: {value!r}"


def assert_iso_date(value) -> None:
    assert isinstance(value, str) and ISO_DATE.match(value), f"not an ISO 8601 date: {value!r}"


def assert_iso_datetime(value) -> None:
    assert isinstance(value, str) and ISO_DATETIME.match(value), f"not an ISO 8601 datetime: {value!r}"


def assert_error(response, status: int, message: str | None = None) -> dict:
    """A JSON error `{"error": "..."}` with this status (and this exact message, when given)."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    if message is not None:
        assert body["error"] == message
    return body


def ledger_rows() -> dict:
    """Every row a move of money writes, to compare before and after a refused request: a refusal
    changes nothing (DESIGN: bad input changes nothing)."""
    return {
        "payments": list(Payment.objects.order_by("pk").values_list("pk", "status", "amount", "reversed_at")),
        "allocations": list(
            PaymentAllocation.objects.order_by("pk").values_list("pk", "payment_id", "installment_id", "amount")
        ),
        "installments": list(
            Installment.objects.order_by("pk").values_list("pk", "amount_paid", "amount_refunded", "status", "paid_at")
        ),
        "plans": list(Plan.objects.order_by("pk").values_list("pk", "status")),
        "refunds": list(Refund.objects.order_by("pk").values_list("pk", "status", "amount_applied")),
        "customers": list(Customer.objects.order_by("pk").values_list("customer_id", "status", "overdue_since")),
        "audit_events": AuditEvent.objects.count(),
    }


# The fuzz test records how many requests it sent per operation (user properties "fuzz_requests"
# and "fuzz_seconds", set at teardown); the figures are summed here at the end of the run. Under
# xdist this conftest is not loaded by the controller: then see the per-operation lines with -s,
# or the properties in a JUnit XML report.


def pytest_terminal_summary(terminalreporter):
    requests, seconds, operations = 0, 0.0, 0
    for reports in terminalreporter.stats.values():
        for report in reports:
            properties = dict(getattr(report, "user_properties", None) or [])
            # The page fuzz test records "fuzz_requests" too, without seconds: only the API's count here.
            if getattr(report, "when", None) == "teardown" and "fuzz_seconds" in properties:
                requests += int(properties["fuzz_requests"])
                seconds += float(properties["fuzz_seconds"])
                operations += 1
    if operations:
        terminalreporter.write_sep(
            "-", f"schemathesis: {requests} API requests over {operations} operations in {seconds:.1f} s"
        )
