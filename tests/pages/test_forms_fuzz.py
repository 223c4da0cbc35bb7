"""Property-based fuzz (hypothesis) of every staff page that takes input from a person.

The forms (create a plan, pay an installment, record a payment by amount, reverse a payment, cancel
a plan, issue and cancel a refund, status override, reveal PII, re-process a webhook event, assign
a collection case, add a note to it, record a promise to pay), the list filters and search forms
(customers, risk review with its bucket filter, audit log, webhook events, the collections queue
and a case's page), the plan and payment previews (htmx) and the sign-in form are driven through
Django's test client: as a superuser, and as support where that role may use the page (support is
also sent to status override, reveal, re-process, payment reversal and the collections pages, where
it must get 403); the sign-in form anonymously.
Values mix valid ones with hostile ones: amounts with 3 decimals, negative, zero, huge (1e30,
10**40), NaN, Infinity, text, other scripts' digits, unicode names, NUL characters, 10 KB strings,
empty, whitespace, fields left out; and the ids of rows that exist (`world`: customers,
installments paid and not, plans with and without payments, a payment in each status, a refund in
each status, merchants, a webhook event in each status) or do not. Search boxes also get
customers' phone numbers, typed as an agent types them.

Every request must:
- answer below 500 (the test client re-raises a view's exception: the example fails with it);
- carry no raw phone, card or passport number of any customer in its body or headers (the reveal
  page shows the one value it was asked for, and nothing else);
- if it is a POST that is refused (anything but a redirect: the form re-rendered with its errors,
  a 4xx), change no row: `tests.property.table_state()`, the payments, allocations and installment
  amounts, and no one-time form token spent. A GET that is not a CSV export changes no row either.
An accepted POST did what it says (one plan more, the installment paid, one payment of exactly the
amount typed allocated to that customer's installments (or the first one, for a reference
replayed), the POSTED payment reversed, the unpaid plan cancelled, the PENDING refund cancelled,
the status set, the event queued again, the reveal audited); only the right password signs in, and
never to a page off the site.

Each example runs in a savepoint that is rolled back (`tests.property.rolled_back`), so each one
starts from the seeded rows; a failing example prints the request it sent (hypothesis' `note`).
FUZZ_EXAMPLES sets the examples (one request each) per test: 80 by default, about 1,850 requests in
under 30 s on SQLite and 45 s on PostgreSQL; FUZZ_EXAMPLES=800 digs ten times deeper (about 6
minutes on PostgreSQL, which also refuses NUL characters and over-long values). Run with -s to see
the requests per test, with --hypothesis-show-statistics the mix of status codes.
"""

from __future__ import annotations

import datetime
import os
import re
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote, unquote, urlsplit

import pytest
from django.core.signals import request_started
from django.test import Client
from django.urls import Resolver404, resolve
from django.utils import timezone
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from bnpl_admin.audit.selectors import actions_in_use
from bnpl_admin.audit.services import Actor
from bnpl_admin.collection.models import Case, CaseNote, PromiseToPay
from bnpl_admin.customers.encryption import decrypt
from bnpl_admin.customers.masking import as_printed
from bnpl_admin.customers.models import Customer
from bnpl_admin.money import MAX_AMOUNT
from bnpl_admin.plans.ledger import pay_installments, reverse_payment
from bnpl_admin.plans.models import Installment, Payment, PaymentAllocation, Plan
from bnpl_admin.plans.services import check_overdue
from bnpl_admin.refunds.models import Refund
from bnpl_admin.staff.models import FormSubmission
from bnpl_admin.webhooks.models import WebhookEvent
from tests.api.conftest import assert_no_raw_pii, raw_pii_in_database
from tests.factories import CustomerFactory, PlanFactory, RefundFactory, UserFactory
from tests.pages import HTMX, text_of
from tests.property import COMMON, rolled_back, table_state
from tests.webhooks import merchant_with_secret

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "80"))
FUZZ = settings(max_examples=EXAMPLES, **COMMON)

TEN_KB = 10 * 1024
ABSENT = object()  # a field left out of the request altogether
PASSWORD = "correct horse battery staple"  # UserFactory's
CUSTOMER_IDS = ("usr-001", "usr-002", "usr-003", "usr-004")  # usr-002 is a DEBT_USER
MERCHANT_CODES = ("acme-shop", "other-shop")
CASE_WORKER = "fuzz-risk"  # a risk user: the assign form offers them
REDIRECT = (301, 302, 303)
REVEALABLE = {
    "phone_number": "phone_encrypted",
    "card_number": "card_encrypted",
    "passport_number": "passport_encrypted",
}


# Values


def ten_kb(pieces):
    """10 KiB strings made by repeating a short piece (hypothesis would not draw them directly)."""
    return pieces.map(lambda piece: (piece * (TEN_KB // len(piece) + 1))[:TEN_KB])


NASTY = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "\t \n ",
            "\x00",
            "usr-001\x00",
            "a\x00b",
            "NaN",
            "Infinity",
            "-Infinity",
            "1e30",
            str(10**40),
            "-1",
            "0",
            "\u0661\u0662\u0663",  # Arabic-Indic digits
            "\uff11\uff12\uff13",  # full-width digits
            "\u0967\u0968\u0969",  # Devanagari digits
            "Zoë Ørsted-Łukasz 李小龍 محمد",
            "🙂",
            "\u202eevil",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "%",
            "_",
            "\\",
            "..",
        ]
    ),
    st.text(max_size=30),
    ten_kb(st.text(min_size=1, max_size=4)),
    ten_kb(st.sampled_from(["9", "a", "\x00", "é"])),
)


def mostly(usual, other, *, one_in: int = 3):
    """`usual`, but `other` about one time in `one_in`. (Hypothesis' `one_of` draws its branches
    evenly, and flattens nested ones: valid values would be rare among the many kinds of bad ones,
    and so would the requests that get past the form to the service.) Shrinks towards `usual`."""
    return st.sampled_from([usual] * (one_in - 1) + [other]).flatmap(lambda values: values)


def sometimes_absent(values):
    """`values`, or (about one time in eight) the field left out of the request."""
    return mostly(values, st.just(ABSENT), one_in=8)


VALID_AMOUNTS = st.one_of(
    st.decimals(min_value=Decimal("0.01"), max_value=MAX_AMOUNT, places=2).map(str),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2).map(str),
    st.integers(1, 10**6).map(str),
)
BAD_AMOUNTS = st.one_of(
    st.decimals(min_value=Decimal("0.001"), max_value=Decimal("100000"), places=3).map(str),  # 3 decimals
    st.sampled_from(
        [
            "12.345",
            "0.001",
            "0",
            "0.00",
            "-0",
            "-1",
            "-0.01",
            "-250.00",
            "1e30",
            "1E+30",
            str(10**40),
            "1000000000000.00",
            "NaN",
            "sNaN",
            "Infinity",
            "-Infinity",
            "inf",
            "abc",
            "\u0661\u0660\u0660",  # 100 in Arabic-Indic digits
            "\uff11\uff10\uff10",  # 100 in full-width digits
            "100,50",
            "1_000",
            "0x10",
            "1.2.3",
        ]
    ),
    NASTY,
)
AMOUNTS = mostly(VALID_AMOUNTS, BAD_AMOUNTS)

INSTALLMENT_COUNTS = mostly(
    st.integers(2, 24).map(str),
    st.one_of(st.sampled_from(["1", "25", "0", "-3", "3.0", "1e1", str(10**40), "NaN", "\u0663", "\uff13"]), NASTY),
)

TOKENS = mostly(
    st.one_of(st.uuids().map(str), st.uuids().map(lambda u: "{" + str(u).upper() + "}")),  # uuid.UUID takes both
    st.one_of(st.sampled_from(["", "preview", "not-a-uuid", f"{uuid.uuid4()}\x00", str(uuid.UUID(int=0))]), NASTY),
    one_in=4,
)

REASONS = mostly(st.one_of(st.just("Customer asked"), st.text(min_size=1, max_size=300)), NASTY)

PAGES = mostly(
    st.integers(1, 5).map(str),
    st.one_of(st.sampled_from(["0", "-1", "999999", str(10**40), "9" * 30, "1.5", "NaN", "last", "\u0662"]), NASTY),
)

DATES = mostly(
    st.dates().map(datetime.date.isoformat),
    st.one_of(
        st.sampled_from(
            [
                "2024-02-30",
                "2024-13-01",
                "0000-01-01",
                "0001-01-01",
                "9999-12-31",
                "10000-01-01",
                "2024-1-1",
                "1/2/2024",
            ]
        ),
        NASTY,
    ),
)


def sort_keys(*columns: str):
    return mostly(st.sampled_from([*columns, *(f"-{c}" for c in columns)]), NASTY)


def segment(value) -> str:
    """A value as one URL path segment: it reaches the view exactly as drawn (NUL, '/', '%')."""
    return quote(str(value), safe="")


def present(fields: dict) -> dict:
    return {name: value for name, value in fields.items() if value is not ABSENT}


def spaced_phone(phone: str) -> str:
    digits = phone.lstrip("+")
    return f"+{digits[:3]} {digits[3:5]} {digits[5:8]} {digits[8:10]} {digits[10:]}"


# The seeded rows


@dataclass
class World:
    """What the seed made: ids of rows that exist (per kind), and every raw PII value there is."""

    raw_pii: set[str]
    phones: list[str]
    unpaid_installments: list[int]
    paid_installments: list[int]
    plans_of: dict[str, list[str]]
    payments: dict[str, str]  # status -> payment id
    used_references: list[str]  # of the payments that exist
    refunds: dict[str, str]  # status -> refund id
    events: dict[str, int]  # status -> event id
    actions: list[str]  # in the audit trail: the audit log's action filter offers them
    cases: dict[str, int]  # "OPEN" (usr-002's) / "CLOSED" -> case id

    @property
    def events_by_id(self) -> dict[int, str]:
        return {pk: status for status, pk in self.events.items()}

    def customer_ids(self):
        return mostly(st.sampled_from(CUSTOMER_IDS), st.one_of(st.just("usr-999"), NASTY), one_in=4)

    def installment_ids(self):
        return mostly(
            st.sampled_from(self.unpaid_installments + self.paid_installments),
            st.one_of(st.sampled_from([0, 999999, 10**40, "-1", "1.0", "\u0661", "00001"]), NASTY),
            one_in=4,
        )

    def refund_ids(self):
        return mostly(
            st.sampled_from(sorted(self.refunds.values())),
            st.one_of(st.uuids().map(str), st.sampled_from([str(uuid.UUID(int=0)), "not-a-uuid"]), NASTY),
            one_in=4,
        )

    def event_ids(self):
        return mostly(
            st.sampled_from(sorted(self.events.values())),
            st.one_of(st.sampled_from([0, 999999, 10**40, "-1", "00001"]), NASTY),
            one_in=4,
        )

    def status_of_event(self, event_id) -> str | None:
        """The status of the event a `<int:event_id>` path segment names, None when it names none."""
        text = str(event_id)
        if not re.fullmatch(r"[0-9]+", text):
            return None
        try:
            pk = int(text)
        except ValueError:  # over Python's 4,300 digits: the path converter does not match either
            return None
        return self.events_by_id.get(pk)

    def case_ids(self):
        return mostly(
            st.sampled_from(sorted(self.cases.values())),
            st.one_of(st.sampled_from([0, 999999, 10**40, "-1", "00001"]), NASTY),
            one_in=4,
        )

    def case_of(self, case_id) -> str | None:
        """The status of the case a `<int:case_id>` path segment names, None when it names none."""
        text = str(case_id)
        if not re.fullmatch(r"[0-9]{1,18}", text):
            return None
        return {pk: status for status, pk in self.cases.items()}.get(int(text))

    def plan_choices(self):
        every_plan = sorted(p for plans in self.plans_of.values() for p in plans)
        return mostly(st.sampled_from(["", *every_plan]), st.one_of(st.uuids().map(str), NASTY))

    def plan_ids(self):
        every_plan = sorted(p for plans in self.plans_of.values() for p in plans)
        return mostly(
            st.sampled_from(every_plan),
            st.one_of(st.uuids().map(str), st.sampled_from([str(uuid.UUID(int=0)), "not-a-uuid"]), NASTY),
            one_in=4,
        )

    def payment_ids(self):
        return mostly(
            st.sampled_from(sorted(self.payments.values())),
            st.one_of(st.uuids().map(str), st.sampled_from([str(uuid.UUID(int=0)), "not-a-uuid"]), NASTY),
            one_in=4,
        )

    def references(self):
        """Fresh references mostly; sometimes one already used (a replay, or a conflict), or a bad one."""
        return mostly(
            st.uuids().map(lambda u: f"ref-{u}"),
            st.one_of(st.sampled_from(self.used_references), st.just("x" * 65), NASTY),
        )

    def searches(self):
        """Search text: names and ids, hostile text, and a customer's phone number as an agent types it
        (which must never come back: the search answers with its lookup hash instead)."""
        phones = st.sampled_from(self.phones)
        return mostly(
            st.one_of(
                st.sampled_from(["usr-00", "usr-001", "Karimov", "aziz", "Zoë", "李"]),
                phones,
                phones.map(lambda p: p.lstrip("+")),
                phones.map(spaced_phone),
                phones.map(lambda p: f"{p[:4]}-{p[4:6]}-{p[6:9]}-{p[9:11]}-{p[11:]}"),
                phones.map(lambda p: f"  {p}\t"),
            ),
            NASTY,
        )


@pytest.fixture
def world(db):
    """Four customers (usr-002 a DEBT_USER), three plans with upcoming, overdue and paid
    installments (usr-003's paid by a POSTED payment, usr-001's with a REVERSED one), a refund in
    each status, two merchants and a webhook event in each status."""
    today = timezone.localdate()
    actor = Actor.system("fuzz-seed")
    customers = [
        CustomerFactory(customer_id="usr-001", full_name="Aziz Karimov"),
        CustomerFactory(customer_id="usr-002", full_name="Zoë Ørsted"),
        CustomerFactory(customer_id="usr-003", full_name="李小龍"),
        CustomerFactory(customer_id="usr-004", full_name="Dilnoza Yusupova"),
    ]
    active = PlanFactory(customer=customers[0], total_amount=Decimal("500.00"), installment_count=3)
    PlanFactory(customer=customers[1], start_date=today - datetime.timedelta(days=70))  # falls overdue
    two = PlanFactory(customer=customers[2], total_amount=Decimal("120.00"), installment_count=2)
    check_overdue(actor=actor)  # usr-002 becomes DEBT_USER
    posted = pay_installments(installment_ids=[two.installments.get(number=1).pk], actor=actor).payment
    mistaken = pay_installments(installment_ids=[active.installments.get(number=1).pk], actor=actor).payment
    reverse_payment(payment_id=mistaken.pk, reason="Entered twice", actor=actor)
    refunds = {
        Refund.Status.PENDING: RefundFactory(customer=customers[0], plan=active, transaction_id="txn-pending"),
        Refund.Status.PROCESSING: RefundFactory(
            customer=customers[0], transaction_id="txn-processing", status=Refund.Status.PROCESSING
        ),
        Refund.Status.APPROVED: RefundFactory(
            customer=customers[2], transaction_id="txn-approved", status=Refund.Status.APPROVED
        ),
        Refund.Status.REJECTED: RefundFactory(
            customer=customers[3], transaction_id="txn-rejected", status=Refund.Status.REJECTED
        ),
    }
    shops = [merchant_with_secret(code).merchant for code in MERCHANT_CODES]
    events = {
        status: WebhookEvent.objects.create(
            merchant=shops[n % 2],
            webhook_id=f"msg_{status.lower()}",
            payload={"refund_id": "txn-pending", "status": "approved"},
            refund_ref="txn-pending",
            requested_status="approved",
            status=status,
        )
        for n, status in enumerate(WebhookEvent.Status.values)
    }
    assert Customer.objects.get(customer_id="usr-002").status == Customer.Status.DEBT_USER
    UserFactory.risk(username=CASE_WORKER)
    UserFactory.support(username="fuzz-helpdesk")  # may not work cases
    closed = Case.objects.create(
        customer=customers[3], status=Case.Status.CLOSED, opened_at=timezone.now(), closed_at=timezone.now()
    )
    installments = Installment.objects.order_by("pk")
    return World(
        raw_pii=raw_pii_in_database(),
        phones=[decrypt(phone) for phone in Customer.objects.values_list("phone_encrypted", flat=True)],
        unpaid_installments=list(installments.exclude(status="PAID").values_list("pk", flat=True)),
        paid_installments=list(installments.filter(status="PAID").values_list("pk", flat=True)),
        plans_of={c.customer_id: [str(p.pk) for p in c.plans.all()] for c in customers},
        payments={Payment.Status.POSTED: str(posted.pk), Payment.Status.REVERSED: str(mistaken.pk)},
        used_references=[posted.reference, mistaken.reference],
        refunds={status: str(refund.pk) for status, refund in refunds.items()},
        events={status: event.pk for status, event in events.items()},
        actions=actions_in_use(),
        cases={
            Case.Status.OPEN: Case.objects.get(customer=customers[1], status="OPEN").pk,
            Case.Status.CLOSED: closed.pk,
        },
    )


# The properties


def send(client, method: str, path: str, data=None, *, headers=None):
    """Send one request; it is noted, so that a failing example prints it (path, data, headers)."""
    note(f"{method.upper()} {path} data={data!r} headers={headers!r}")
    return getattr(client, method)(path, data or {}, headers=headers or {})


def check_response(response, world: World, *, shown=frozenset()) -> None:
    """Below 500, and no raw PII in the body or headers (but `shown`, a value revealed on purpose)."""
    event(f"HTTP {response.status_code}")  # the mix of answers: pytest --hypothesis-show-statistics
    assert response.status_code < 500, response.status_code
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    body = text_of(response)  # a streamed CSV export is read whole here
    assert_no_raw_pii(f"{headers}\n\n{body}".encode(), also=world.raw_pii - set(shown), check_database=False)


def state() -> dict:
    """`table_state()`, the payments with their allocations and the installments' amounts (the
    ledger's rows), and the one-time form tokens used (a refused form must not spend its token)."""
    return {
        **table_state(),
        "payment": list(Payment.objects.order_by("pk").values_list("pk", "status", "amount", "reversal_reason")),
        "allocation": PaymentAllocation.objects.count(),
        "installment_amounts": list(
            Installment.objects.order_by("pk").values_list("pk", "amount_paid", "amount_refunded")
        ),
        "form_submissions": FormSubmission.objects.count(),
        "case": list(Case.objects.order_by("pk").values_list("pk", "status", "assignee_id")),
        "case_note": list(CaseNote.objects.order_by("pk").values_list("pk", "text")),
        "promise": list(PromiseToPay.objects.order_by("pk").values_list("pk", "amount", "due_date", "status")),
    }


def changed(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after[name]]


def assert_unchanged(before: dict, after: dict, response) -> None:
    assert not changed(before, after), f"refused ({response.status_code}) but changed {changed(before, after)}"


def post_form(staff, path: str, data: dict, world: World, *, accepted=None, headers=None):
    """POST `data` to `path` in a savepoint rolled back afterwards. A refused POST (no redirect)
    changed no row; for an accepted one, `accepted(before, after)` is asserted."""
    with rolled_back():
        before = state()
        response = send(staff, "post", path, present(data), headers=headers)
        after = state()
        check_response(response, world)
        if response.status_code in REDIRECT:
            if accepted is not None:
                accepted(before, after)
        else:
            assert_unchanged(before, after, response)
    return response


def get_page(staff, path: str, params: dict, world: World, *, headers=None):
    """GET with these query parameters; a page view (not a CSV export) changes no row."""
    with rolled_back():
        before = state()
        response = send(staff, "get", path, present(params), headers=headers)
        check_response(response, world)  # inside the savepoint: an export streams from a cursor
        after = state()
        if params.get("_export") != "csv":
            assert not changed(before, after), f"a GET changed {changed(before, after)}"
    return response


def support_is_refused(role: str, path: str, response) -> None:
    """Support may not take this action: 403 wherever the path names the page (404 where it names none)."""
    if role != "support":
        return
    try:
        resolve(unquote(path))
    except Resolver404:
        assert response.status_code == 404, response.status_code
    else:
        assert response.status_code == 403, response.status_code


SUPPORT_MAY = pytest.mark.parametrize("role", ["admin", "support"])


@pytest.fixture
def staff(role, client_for):
    return client_for(role)


@pytest.fixture(autouse=True)
def counted(request):
    """Count the requests each test sends; printed with -s, and kept in the test report."""
    sent = []

    def count(**kwargs):
        sent.append(1)

    request_started.connect(count)
    started = time.perf_counter()
    yield
    request_started.disconnect(count)
    seconds = time.perf_counter() - started
    request.node.user_properties.append(("fuzz_requests", len(sent)))
    print(f"\n{request.node.name}: {len(sent)} requests in {seconds:.1f} s")


# POST forms


@SUPPORT_MAY
@FUZZ
@given(
    data=st.data(),
    total=sometimes_absent(AMOUNTS),
    count=sometimes_absent(INSTALLMENT_COUNTS),
    token=sometimes_absent(TOKENS),
)
def test_create_plan_form(world, staff, data, total, count, token):
    customer_id = data.draw(world.customer_ids(), label="customer_id")
    fields = {"total_amount": total, "installment_count": count, "token": token}

    def one_plan_more(before, after):
        assert after["plan"][0] == before["plan"][0] + 1, "redirected but created no plan"
        assert customer_id != "usr-002", "a plan was created for a DEBT_USER"

    post_form(staff, f"/customers/{segment(customer_id)}/plans/new/", fields, world, accepted=one_plan_more)


@SUPPORT_MAY
@FUZZ
@given(data=st.data(), token=sometimes_absent(TOKENS))
def test_pay_installment_form(world, staff, data, token):
    installment_id = data.draw(world.installment_ids(), label="installment_id")

    def paid(before, after):
        installment = Installment.objects.get(pk=int(installment_id))  # the path's <int:>: "007" is 7
        assert installment.status == Installment.Status.PAID
        assert installment.pk in world.unpaid_installments, "a paid installment was paid again"

    post_form(staff, f"/installments/{segment(installment_id)}/pay/", {"token": token}, world, accepted=paid)


# Amounts a customer of the world could owe (most of AMOUNTS' valid ones are over any balance).
PAYMENT_AMOUNTS = mostly(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("600"), places=2).map(str), AMOUNTS)
METHODS = mostly(st.sampled_from(Payment.Method.values), st.one_of(st.sampled_from(["CARD", "bitcoin"]), NASTY))


@SUPPORT_MAY
@FUZZ
@given(
    data=st.data(),
    amount=sometimes_absent(PAYMENT_AMOUNTS),
    method=sometimes_absent(METHODS),
    token=sometimes_absent(TOKENS),
)
def test_record_payment_by_amount_form(world, staff, data, amount, method, token):
    customer_id = data.draw(world.customer_ids(), label="customer_id")
    reference = data.draw(sometimes_absent(world.references()), label="reference")
    plan = data.draw(sometimes_absent(world.plan_choices()), label="plan")
    fields = {"amount": amount, "method": method, "reference": reference, "plan": plan, "token": token}

    def one_payment_of_that_amount(before, after):
        if reference in world.used_references:  # the same payment again: answered with the first one
            assert after["payment"] == before["payment"], "a replayed reference recorded another payment"
            return
        assert len(after["payment"]) == len(before["payment"]) + 1, "redirected but recorded no payment"
        payment = Payment.objects.get(reference=reference.strip())
        assert payment.customer.customer_id == customer_id and payment.amount == Decimal(amount)
        allocations = list(payment.allocations.select_related("installment"))
        assert sum(a.amount for a in allocations) == payment.amount
        assert {a.installment.customer_id for a in allocations} == {payment.customer_id}
        if plan not in ("", ABSENT):
            assert {str(a.installment.plan_id) for a in allocations} == {plan}, "paid outside the plan chosen"

    path = f"/customers/{segment(customer_id)}/payments/new/"
    post_form(staff, path, fields, world, accepted=one_payment_of_that_amount)


@SUPPORT_MAY
@FUZZ
@given(data=st.data(), amount=PAYMENT_AMOUNTS)
def test_record_payment_preview(world, staff, data, amount):
    """The live allocation preview (htmx GET while typing) of the record-payment form."""
    customer_id = data.draw(world.customer_ids(), label="customer_id")
    plan = data.draw(sometimes_absent(world.plan_choices()), label="plan")
    params = {"amount": amount, "plan": plan}
    get_page(staff, f"/customers/{segment(customer_id)}/payments/new/", params, world, headers=HTMX)


@SUPPORT_MAY
@FUZZ
@given(data=st.data(), reason=sometimes_absent(REASONS), token=sometimes_absent(TOKENS))
def test_reverse_payment_form(world, role, staff, data, reason, token):
    """Risk only (support: 403): only a POSTED payment is reversed."""
    payment_id = data.draw(world.payment_ids(), label="payment_id")

    def reversed_(before, after):
        assert payment_id == world.payments[Payment.Status.POSTED], "a payment not POSTED was reversed"
        assert Payment.objects.get(pk=payment_id).status == Payment.Status.REVERSED

    path = f"/payments/{segment(payment_id)}/reverse/"
    response = post_form(staff, path, {"reason": reason, "token": token}, world, accepted=reversed_)
    support_is_refused(role, path, response)


@SUPPORT_MAY
@FUZZ
@given(data=st.data(), reason=sometimes_absent(REASONS), token=sometimes_absent(TOKENS))
def test_cancel_plan_form(world, staff, data, reason, token):
    """Only a plan without a POSTED payment (nor a refund in progress) is cancelled."""
    plan_id = data.draw(world.plan_ids(), label="plan_id")

    def cancelled(before, after):
        plan = Plan.objects.get(pk=plan_id)
        assert plan.status == Plan.Status.CANCELLED
        assert not Payment.objects.filter(allocations__installment__plan=plan, status=Payment.Status.POSTED).exists()
        assert not plan.installments.exclude(status=Installment.Status.CANCELLED).filter(amount_paid=0).exists()

    path = f"/plans/{segment(plan_id)}/cancel/"
    post_form(staff, path, {"reason": reason, "token": token}, world, accepted=cancelled)


@SUPPORT_MAY
@FUZZ
@given(
    data=st.data(),
    transaction_id=sometimes_absent(
        mostly(st.uuids().map(lambda u: f"txn-{u}"), st.one_of(st.sampled_from(["txn-pending", "txn-approved"]), NASTY))
    ),
    amount=sometimes_absent(AMOUNTS),
    reason=sometimes_absent(mostly(REASONS, st.just(""))),
    token=sometimes_absent(TOKENS),
    step=st.sampled_from(["confirm", "confirm", "confirm", "review", "form", ABSENT, "garbage\x00"]),
)
def test_issue_refund_form(world, staff, data, transaction_id, amount, reason, token, step):
    customer_id = data.draw(world.customer_ids(), label="customer_id")
    plan = data.draw(sometimes_absent(world.plan_choices()), label="plan")
    fields = {
        "transaction_id": transaction_id,
        "amount": amount,
        "plan": plan,
        "reason": reason,
        "token": token,
        "step": step,
    }
    post_form(staff, f"/customers/{segment(customer_id)}/refunds/new/", fields, world)


@SUPPORT_MAY
@FUZZ
@given(data=st.data(), reason=sometimes_absent(REASONS), token=sometimes_absent(TOKENS))
def test_cancel_refund_form(world, staff, data, reason, token):
    refund_id = data.draw(world.refund_ids(), label="refund_id")

    def cancelled(before, after):
        assert refund_id == world.refunds[Refund.Status.PENDING], "a refund not PENDING was cancelled"
        assert Refund.objects.get(pk=refund_id).status == Refund.Status.REJECTED

    post_form(
        staff, f"/refunds/{segment(refund_id)}/cancel/", {"reason": reason, "token": token}, world, accepted=cancelled
    )


@SUPPORT_MAY
@FUZZ
@given(
    data=st.data(),
    status=sometimes_absent(mostly(st.sampled_from(Customer.Status.values), NASTY)),
    reason=sometimes_absent(REASONS),
)
def test_status_override_form(world, role, staff, data, status, reason):
    customer_id = data.draw(world.customer_ids(), label="customer_id")

    def overridden(before, after):
        assert Customer.objects.get(customer_id=customer_id).status == status

    path = f"/customers/{segment(customer_id)}/status/"
    response = post_form(staff, path, {"status": status, "reason": reason}, world, accepted=overridden)
    support_is_refused(role, path, response)


@SUPPORT_MAY
@FUZZ
@given(
    customer_id=mostly(st.sampled_from(CUSTOMER_IDS), st.one_of(st.just("usr-999"), NASTY)),
    pii_field=mostly(
        st.sampled_from(sorted(REVEALABLE)),
        st.one_of(st.sampled_from(["phone_encrypted", "full_name", "PHONE_NUMBER", "phone_number\x00"]), NASTY),
    ),
    htmx=st.booleans(),
)
def test_reveal_pii(world, role, staff, customer_id, pii_field, htmx):
    """The one page that shows a raw value: only the one asked for, and each reveal is audited."""
    path = f"/customers/{segment(customer_id)}/reveal/{segment(pii_field)}/"
    with rolled_back():
        before = state()
        response = send(staff, "post", path, headers=HTMX if htmx else None)
        after = state()
        if role == "admin" and customer_id in CUSTOMER_IDS and pii_field in REVEALABLE:
            assert response.status_code == 200, response.status_code
        if response.status_code == 200:
            customer = Customer.objects.get(customer_id=customer_id)
            value = as_printed(pii_field, decrypt(getattr(customer, REVEALABLE[pii_field])))
            assert value in response.content.decode()
            assert after["audit_events"] == before["audit_events"] + 1, "a reveal that was not audited"
            check_response(response, world, shown={value, value.lstrip("+")})
        else:
            check_response(response, world)
            assert_unchanged(before, after, response)
    support_is_refused(role, path, response)


@SUPPORT_MAY
@FUZZ
@given(data=st.data())
def test_webhook_reprocess(world, role, staff, data):
    """Only a FAILED or UNMATCHED event is queued again (back to RECEIVED), and only by risk or admin;
    any other request changes no row."""
    event_id = data.draw(world.event_ids(), label="event_id")
    with rolled_back():
        before = state()
        was = world.status_of_event(event_id)
        path = f"/webhooks/{segment(event_id)}/reprocess/"
        response = send(staff, "post", path)
        after = state()
        check_response(response, world)
        if role == "admin" and was in (WebhookEvent.Status.FAILED, WebhookEvent.Status.UNMATCHED):
            assert response.status_code in REDIRECT, response.status_code
            assert WebhookEvent.objects.get(pk=int(event_id)).status == WebhookEvent.Status.RECEIVED
        else:
            assert_unchanged(before, after, response)
    support_is_refused(role, path, response)


@pytest.fixture
def agent(db):
    return UserFactory.support(username="fuzz-agent")


def stays_on_site(url: str) -> bool:
    """A path on this site (a relative one too): no scheme, no host, nor `//` (or `/\\`, which
    browsers read as `//`) that would make the rest a host."""
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc and not url.replace("\\", "/").startswith("//")


SIGN_IN_NEXT = st.sampled_from(
    ["/customers/", "https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)", "\x00"]
)


@FUZZ
@given(
    username=mostly(st.sampled_from(["fuzz-agent", " fuzz-agent ", "FUZZ-AGENT"]), NASTY),
    password=mostly(st.sampled_from([PASSWORD, PASSWORD.upper(), f" {PASSWORD}"]), NASTY),
    extra=st.fixed_dictionaries({}, optional={"next": st.one_of(SIGN_IN_NEXT, NASTY)}),
)
def test_sign_in_form(world, agent, username, password, extra):
    """Anonymous: the sign-in form answers below 500 whatever is typed; only the right password signs
    in, and a sign-in never sends the browser off the site (`next`)."""
    with rolled_back():
        response = send(Client(), "post", "/accounts/login/", {"username": username, "password": password, **extra})
        check_response(response, world)
        if password != PASSWORD:
            assert response.status_code not in REDIRECT, "signed in with a wrong password"
        elif username == agent.username:
            assert response.status_code in REDIRECT, (response.status_code, text_of(response)[:300])
        if response.status_code in REDIRECT:
            assert stays_on_site(response.url), f"signed in, then sent off the site: {response.url!r}"


# GET list filters (and the search forms that POST to the same pages)

CUSTOMER_COLUMNS = ("customer_id", "full_name", "phone_masked", "status", "created_at")
RISK_COLUMNS = ("customer_id", "full_name", "total_overdue", "days_overdue", "oldest_due_date", "bucket")
BUCKETS = mostly(st.sampled_from(["", "1-30", "31-60", "61-90", "90+"]), st.one_of(st.just("91+"), NASTY))
AUDIT_COLUMNS = ("at", "actor_label", "action", "customer_ref")
EXPORT = sometimes_absent(st.sampled_from([ABSENT, ABSENT, "csv", "xlsx", "\x00"]))


def nothing_changed(before: dict, after: dict) -> None:
    assert not changed(before, after), f"a search changed {changed(before, after)}"


def search_request(staff, path, params, world, method, htmx):
    if method == "post":  # the search form: answered with the equivalent GET URL, or (htmx) the table
        return post_form(staff, path, params, world, accepted=nothing_changed, headers=HTMX if htmx else None)
    return get_page(staff, path, params, world, headers=HTMX if htmx else None)


@SUPPORT_MAY
@FUZZ
@given(
    data=st.data(),
    method=st.sampled_from(["get", "get", "post"]),
    htmx=st.booleans(),
    ph=sometimes_absent(st.one_of(st.just(""), st.text(alphabet="0123456789abcdef", min_size=64, max_size=64), NASTY)),
    status=sometimes_absent(mostly(st.sampled_from(Customer.Status.values), NASTY)),
    sort=sometimes_absent(sort_keys(*CUSTOMER_COLUMNS)),
    page=sometimes_absent(PAGES),
    per_page=sometimes_absent(PAGES),
    export=EXPORT,
)
def test_customer_list_filters(world, staff, data, method, htmx, ph, status, sort, page, per_page, export):
    q = data.draw(sometimes_absent(world.searches()), label="q")
    params = {"q": q, "ph": ph, "status": status, "sort": sort, "page": page, "per_page": per_page, "_export": export}
    search_request(staff, "/customers/", params, world, method, htmx)


@FUZZ
@given(
    data=st.data(),
    method=st.sampled_from(["get", "get", "post"]),
    htmx=st.booleans(),
    sort=sometimes_absent(sort_keys(*RISK_COLUMNS)),
    page=sometimes_absent(PAGES),
    per_page=sometimes_absent(PAGES),
    export=EXPORT,
)
def test_risk_review_filters(world, superuser_client, data, method, htmx, sort, page, per_page, export):
    q = data.draw(sometimes_absent(world.searches()), label="q")
    bucket = data.draw(sometimes_absent(BUCKETS), label="bucket")
    params = {"q": q, "bucket": bucket, "sort": sort, "page": page, "per_page": per_page, "_export": export}
    search_request(superuser_client, "/risk/", params, world, method, htmx)


@FUZZ
@given(
    data=st.data(),
    actor=sometimes_absent(mostly(st.sampled_from(["fuzz-seed", "system", "agent"]), NASTY)),
    customer=sometimes_absent(mostly(st.sampled_from(CUSTOMER_IDS), NASTY)),
    date_from=sometimes_absent(DATES),
    date_to=sometimes_absent(DATES),
    sort=sometimes_absent(sort_keys(*AUDIT_COLUMNS)),
    page=sometimes_absent(PAGES),
    htmx=st.booleans(),
    export=EXPORT,
)
def test_audit_log_filters(
    world, superuser_client, data, actor, customer, date_from, date_to, sort, page, htmx, export
):
    action = data.draw(sometimes_absent(mostly(st.sampled_from(world.actions), NASTY)), label="action")
    params = {
        "actor": actor,
        "action": action,
        "customer": customer,
        "date_from": date_from,
        "date_to": date_to,
        "sort": sort,
        "page": page,
        "_export": export,
    }
    get_page(superuser_client, "/audit/", params, world, headers=HTMX if htmx else None)


@SUPPORT_MAY
@FUZZ
@given(
    merchant=sometimes_absent(mostly(st.sampled_from([*MERCHANT_CODES, "no-such-shop"]), NASTY)),
    status=sometimes_absent(mostly(st.sampled_from(WebhookEvent.Status.values), NASTY)),
    refund=sometimes_absent(mostly(st.sampled_from(["txn-pending", "txn-nope"]), NASTY)),
    page=sometimes_absent(PAGES),
    htmx=st.booleans(),
)
def test_webhook_event_filters(world, staff, merchant, status, refund, page, htmx):
    params = {"merchant": merchant, "status": status, "refund": refund, "page": page}
    get_page(staff, "/webhooks/", params, world, headers=HTMX if htmx else None)


@SUPPORT_MAY
@FUZZ
@given(data=st.data(), total=AMOUNTS, count=sometimes_absent(INSTALLMENT_COUNTS))
def test_plan_preview(world, staff, data, total, count):
    """The live schedule preview (htmx GET while typing) of the create-plan form."""
    customer_id = data.draw(world.customer_ids(), label="customer_id")
    params = {"total_amount": total, "installment_count": count}
    get_page(staff, f"/customers/{segment(customer_id)}/plans/new/", params, world, headers=HTMX)


# Collection cases (risk only: support gets 403 on every page and form)

CASE_COLUMNS = ("case", "dpd", "opened_at")
NOTES = mostly(
    st.one_of(
        st.just("Called, promised to pay on Friday"),
        st.text(min_size=1, max_size=300),
        st.sampled_from(["card 4111 1111 1111 1111", "call +998 90 123 45 67", "passport AA 1234567"]),
    ),
    st.one_of(st.just(""), st.just("x" * 2001), NASTY),
)


def promise_dates():
    today = timezone.localdate()
    return mostly(
        st.integers(0, 90).map(lambda days: (today + datetime.timedelta(days=days)).isoformat()),
        st.one_of(
            st.sampled_from([-1, 91, -3650]).map(lambda days: (today + datetime.timedelta(days=days)).isoformat()),
            DATES,
        ),
    )


def no_raw_pii_stored(world: World) -> None:
    stored = " ".join(CaseNote.objects.values_list("text", flat=True))
    assert not [value for value in world.raw_pii if value in stored], "a note kept a raw PII value"


@SUPPORT_MAY
@FUZZ
@given(
    data=st.data(),
    assignee=sometimes_absent(
        mostly(st.sampled_from(["", CASE_WORKER]), st.one_of(st.sampled_from(["fuzz-helpdesk", "nobody"]), NASTY))
    ),
    token=sometimes_absent(TOKENS),
)
def test_case_assign_form(world, role, staff, data, assignee, token):
    """Only to a user who may work cases, or to nobody; only an OPEN case."""
    case_id = data.draw(world.case_ids(), label="case_id")

    def assigned(before, after):
        case = Case.objects.select_related("assignee").get(pk=int(case_id))
        assert world.case_of(case_id) == Case.Status.OPEN, "a closed case was assigned"
        assert (case.assignee.username if case.assignee else "") == ("" if assignee is ABSENT else assignee)

    path = f"/collections/{segment(case_id)}/assign/"
    response = post_form(staff, path, {"assignee": assignee, "token": token}, world, accepted=assigned)
    support_is_refused(role, path, response)


@SUPPORT_MAY
@FUZZ
@given(data=st.data(), token=sometimes_absent(TOKENS))
def test_case_note_form(world, role, staff, data, token):
    """One note more on the OPEN case, with no raw phone, card or passport number kept in it."""
    case_id = data.draw(world.case_ids(), label="case_id")
    text = data.draw(sometimes_absent(mostly(NOTES, st.sampled_from(world.phones).map(spaced_phone))), label="text")

    def noted(before, after):
        assert world.case_of(case_id) == Case.Status.OPEN, "a closed case took a note"
        assert len(after["case_note"]) == len(before["case_note"]) + 1
        note = CaseNote.objects.order_by("-pk").first()
        assert note.case_id == int(case_id) and note.text.strip()
        no_raw_pii_stored(world)

    path = f"/collections/{segment(case_id)}/notes/"
    response = post_form(staff, path, {"text": text, "token": token}, world, accepted=noted)
    support_is_refused(role, path, response)


@SUPPORT_MAY
@FUZZ
@given(data=st.data(), amount=sometimes_absent(AMOUNTS), token=sometimes_absent(TOKENS))
def test_case_promise_form(world, role, staff, data, amount, token):
    """One PENDING promise of exactly the amount typed, due today to 90 days ahead, on the OPEN case."""
    case_id = data.draw(world.case_ids(), label="case_id")
    due_date = data.draw(sometimes_absent(promise_dates()), label="due_date")

    def promised(before, after):
        assert world.case_of(case_id) == Case.Status.OPEN, "a closed case took a promise"
        assert len(after["promise"]) == len(before["promise"]) + 1
        promise = PromiseToPay.objects.order_by("-pk").first()
        assert promise.amount == Decimal(amount) and promise.status == PromiseToPay.Status.PENDING
        assert 0 <= (promise.due_date - timezone.localdate()).days <= 90

    path = f"/collections/{segment(case_id)}/promises/"
    fields = {"amount": amount, "due_date": due_date, "token": token}
    response = post_form(staff, path, fields, world, accepted=promised)
    support_is_refused(role, path, response)


@SUPPORT_MAY
@FUZZ
@given(
    data=st.data(),
    view=sometimes_absent(mostly(st.sampled_from(["all", "mine", "unassigned"]), NASTY)),
    bucket=sometimes_absent(BUCKETS),
    sort=sometimes_absent(sort_keys(*CASE_COLUMNS)),
    page=sometimes_absent(PAGES),
    per_page=sometimes_absent(PAGES),
    htmx=st.booleans(),
    case_page=st.booleans(),
)
def test_collection_queue_filters_and_case_page(
    world, role, staff, data, view, bucket, sort, page, per_page, htmx, case_page
):
    """The queue's tabs, bucket filter, sorting and pages, and a case's page (GETs that change nothing)."""
    if case_page:
        path = f"/collections/{segment(data.draw(world.case_ids(), label='case_id'))}/"
        response = get_page(staff, path, {}, world)
    else:
        path = "/collections/"
        params = {"view": view, "bucket": bucket, "sort": sort, "page": page, "per_page": per_page}
        response = get_page(staff, path, params, world, headers=HTMX if htmx else None)
    support_is_refused(role, path, response)
