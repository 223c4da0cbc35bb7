"""Properties of the money maths and of the services that write money.

- split_amount / build_schedule: cents add up exactly, differ by at most one cent, the first ones
  carry the left-over cents; due dates are calendar months after the start, clamped to month end.
- parse_amount: every positive amount with at most 2 decimals up to MAX_AMOUNT is accepted as is.
- create_plan writes exactly `installment_count` installments summing to the total (rule 1: never
  for a DEBT_USER).
- issue_refund under random call sequences: idempotent (rule 4), conflicts detected, and the
  refunds on a plan never exceed its total.
- The refund state machine (rule 5) under random sequences of merchant statuses and cancels.
"""

import calendar
import datetime
import itertools
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers.models import Customer
from bnpl_admin.money import CENT, MAX_AMOUNT, parse_amount
from bnpl_admin.plans.errors import DebtUserError
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.plans.schedule import MAX_INSTALLMENTS, MIN_INSTALLMENTS, build_schedule, split_amount
from bnpl_admin.plans.services import create_plan
from bnpl_admin.refunds.errors import IllegalTransition, RefundConflict, RefundLimitExceeded
from bnpl_admin.refunds.models import ALLOWED_TRANSITIONS, TERMINAL_STATUSES, Refund
from bnpl_admin.refunds.services import MERCHANT_STATUSES, apply_merchant_status, cancel_refund, issue_refund
from tests.factories import CustomerFactory, RefundFactory
from tests.property import COMMON, assert_refused, rolled_back

MAX_CENTS = int(MAX_AMOUNT * 100)
COUNTS = st.integers(MIN_INSTALLMENTS, MAX_INSTALLMENTS)


def cents_to_amount(cents: int) -> Decimal:
    return (Decimal(cents) * CENT).quantize(CENT)


@st.composite
def totals_and_counts(draw, max_cents: int = MAX_CENTS):
    """(total, count) with total*100 >= count: small totals (a cent or two per installment) often."""
    count = draw(COUNTS)
    cents = draw(
        st.one_of(
            st.integers(count, count * 3),
            st.integers(count, max_cents),
            st.sampled_from([max_cents, max_cents - 1, count * 100, count * 100 + count - 1]).filter(
                lambda c: count <= c <= max_cents
            ),
        )
    )
    return cents_to_amount(cents), count


START_DATES = st.one_of(
    st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(9997, 12, 31)),
    # Month ends and leap days, where the clamping matters.
    st.builds(
        lambda year, month, day: datetime.date(year, month, min(day, calendar.monthrange(year, month)[1])),
        st.integers(1999, 2101),
        st.integers(1, 12),
        st.integers(28, 31),
    ),
)


def months_later(start: datetime.date, months: int) -> tuple[int, int]:
    index = start.year * 12 + start.month - 1 + months
    return index // 12, index % 12 + 1


# split_amount / build_schedule (pure)


@settings(max_examples=400, **COMMON)
@given(totals_and_counts())
def test_split_amount_adds_up_exactly_in_cents(total_and_count):
    total, count = total_and_count

    amounts = split_amount(total, count)

    assert len(amounts) == count
    assert sum(amounts) == total
    assert all(amount > 0 for amount in amounts)
    assert all(amount.as_tuple().exponent == -2 for amount in amounts), amounts
    assert max(amounts) - min(amounts) <= CENT
    assert amounts == sorted(amounts, reverse=True)
    # The design's rule: the first r installments carry the r left-over cents.
    base, remainder = divmod(int(total * 100), count)
    assert amounts == [cents_to_amount(base + 1)] * remainder + [cents_to_amount(base)] * (count - remainder)


@settings(max_examples=400, **COMMON)
@given(totals_and_counts(), START_DATES)
def test_build_schedule_due_dates_are_calendar_months_after_the_start(total_and_count, start):
    total, count = total_and_count

    schedule = build_schedule(total, count, start)

    numbers = [number for number, _, _ in schedule]
    amounts = [amount for _, amount, _ in schedule]
    dates = [due for _, _, due in schedule]
    assert numbers == list(range(1, count + 1))
    assert amounts == split_amount(total, count)
    assert sum(amounts) == total
    assert all(earlier < later for earlier, later in itertools.pairwise([start, *dates]))
    for months, due in enumerate(dates, start=1):
        year, month = months_later(start, months)
        assert (due.year, due.month) == (year, month), (start, months, due)
        assert due.day == min(start.day, calendar.monthrange(year, month)[1]), (start, months, due)


# parse_amount accepts every valid amount


@settings(max_examples=300, **COMMON)
@given(st.integers(1, MAX_CENTS), st.sampled_from(["str", "decimal", "padded", "int"]))
def test_parse_amount_accepts_every_positive_two_place_amount(cents, form):
    amount = cents_to_amount(cents)
    if form == "int" and cents % 100:
        form = "str"
    value = {"str": str(amount), "decimal": amount, "padded": f"  {amount}\n", "int": cents // 100}[form]

    parsed = parse_amount(value)

    assert parsed == amount
    assert parsed.as_tuple().exponent == -2


# create_plan (rule 1)


@pytest.fixture
def debt_customer(db):
    return CustomerFactory(status=Customer.Status.DEBT_USER)


@settings(max_examples=40, **COMMON)
@given(totals_and_counts(), START_DATES)
def test_create_plan_writes_exactly_its_installments(actor, customer, total_and_count, start):
    total, count = total_and_count
    with rolled_back():
        audit_before = AuditEvent.objects.count()

        plan = create_plan(
            customer_id=customer.customer_id,
            total_amount=str(total),
            installment_count=count,
            actor=actor,
            start_date=start,
        )

        plan = Plan.objects.get(pk=plan.pk)
        assert (plan.total_amount, plan.installment_count, plan.status) == (total, count, Plan.Status.ACTIVE)
        rows = list(plan.installments.order_by("number").values_list("number", "amount_due", "due_date", "status"))
        assert rows == [
            (n, amount, due, Installment.Status.UPCOMING) for n, amount, due in build_schedule(total, count, start)
        ]
        assert sum(amount for _, amount, _, _ in rows) == total
        assert Installment.objects.filter(customer=customer).count() == count
        assert AuditEvent.objects.count() == audit_before + 1


@settings(max_examples=40, **COMMON)
@given(totals_and_counts(), st.sampled_from(["str", "decimal"]))
def test_create_plan_refuses_a_debt_user_whatever_the_plan(actor, debt_customer, total_and_count, form):
    total, count = total_and_count

    assert_refused(
        create_plan,
        (DebtUserError,),
        customer_id=debt_customer.customer_id,
        total_amount=total if form == "decimal" else str(total),
        installment_count=count,
        actor=actor,
    )


# issue_refund (rule 4) under random call sequences

REFUND_CALLS = st.lists(
    st.tuples(
        st.sampled_from(["issue", "issue on plan", "cancel"]),
        st.integers(0, 3),  # which transaction id
        st.integers(0, 1),  # which customer
        st.sampled_from([1, 99, 1000, 2500, 5001, 10000]),  # amount in cents
    ),
    min_size=1,
    max_size=14,
)
_example_numbers = itertools.count()


def _refunded_on(plan) -> Decimal:
    """What the refunds on a plan take from it: all but the REJECTED ones."""
    return sum((r.amount for r in Refund.objects.filter(plan=plan).exclude(status="REJECTED")), Decimal("0.00"))


@settings(max_examples=30, **COMMON)
@given(REFUND_CALLS, st.integers(3, 20000))
def test_issue_refund_is_idempotent_and_never_exceeds_a_plan(actor, calls, plan_cents):
    """A model of rule 4: the first call with a transaction id creates the refund; the same
    (customer, amount) again returns it (created=False); another customer or amount conflicts.
    With a plan, the refunds on it that are not REJECTED (cancelling one frees its amount) never
    add up to more than the plan's total."""
    example = next(_example_numbers)
    with rolled_back():
        customers = [CustomerFactory(), CustomerFactory()]
        plans = [
            create_plan(customer_id=c.customer_id, total_amount=cents_to_amount(plan_cents), actor=actor)
            for c in customers
        ]
        issued = {}  # transaction id -> (customer index, amount, refund pk)

        for action, txn_index, who, cents in calls:
            transaction_id = f"prop-{example}-{txn_index}"
            if action == "cancel":
                if transaction_id not in issued:
                    continue
                refund = Refund.objects.get(pk=issued[transaction_id][2])
                if refund.status == Refund.Status.PENDING:
                    cancel_refund(refund_id=refund.pk, actor=actor)
                    assert Refund.objects.get(pk=refund.pk).status == Refund.Status.REJECTED
                else:
                    assert_refused(cancel_refund, (IllegalTransition,), refund_id=refund.pk, actor=actor)
                continue

            amount = cents_to_amount(cents)
            plan = plans[who] if action == "issue on plan" else None
            kwargs = {
                "customer_id": customers[who].customer_id,
                "transaction_id": transaction_id,
                "amount": str(amount),
                "actor": actor,
                "plan_id": plan.pk if plan else None,
            }
            if transaction_id in issued:
                first_who, first_amount, refund_pk = issued[transaction_id]
                if (first_who, first_amount) == (who, amount):
                    result = issue_refund(**kwargs)
                    assert (result.refund.pk, result.created) == (refund_pk, False)
                else:
                    assert_refused(issue_refund, (RefundConflict,), **kwargs)
                continue
            if plan is not None and amount > plan.total_amount - _refunded_on(plan):
                assert_refused(issue_refund, (RefundLimitExceeded,), **kwargs)
                continue
            result = issue_refund(**kwargs)
            assert result.created
            refund = Refund.objects.get(pk=result.refund.pk)
            assert (refund.transaction_id, refund.amount, refund.status) == (transaction_id, amount, "PENDING")
            assert refund.customer_id == customers[who].pk
            assert refund.plan_id == (plan.pk if plan else None)
            issued[transaction_id] = (who, amount, refund.pk)

            for each in plans:
                assert _refunded_on(each) <= each.total_amount

        assert Refund.objects.filter(transaction_id__startswith=f"prop-{example}-").count() == len(issued)


# The refund state machine (rule 5)

MERCHANT_OPS = st.lists(st.sampled_from([*sorted(MERCHANT_STATUSES), "cancel"]), max_size=12)


def expected_after(status: str, op: str) -> str:
    """The model of rule 5: where a refund in `status` goes on a merchant status or a cancel."""
    if op == "cancel":
        return Refund.Status.REJECTED if status == Refund.Status.PENDING else status
    target = MERCHANT_STATUSES[op]
    return target if target in ALLOWED_TRANSITIONS[status] else status


@settings(max_examples=50, **COMMON)
@given(MERCHANT_OPS, st.booleans())
def test_refund_state_machine_under_random_merchant_statuses(customer, ops, by_transaction_id):
    merchant_actor = Actor.system("merchant-property-test")
    with rolled_back():
        refund = RefundFactory(customer=customer)
        ref = refund.transaction_id if by_transaction_id else refund.pk
        model = Refund.Status.PENDING
        applied = 0
        final_processed_at = None

        for op in ops:
            before = model
            model = expected_after(before, op)
            if op == "cancel":
                if before == Refund.Status.PENDING:
                    cancel_refund(refund_id=ref, actor=merchant_actor)
                else:
                    assert_refused(cancel_refund, (IllegalTransition,), refund_id=ref, actor=merchant_actor)
            else:
                update = apply_merchant_status(refund_ref=ref, status=op, actor=merchant_actor)
                assert update.applied == (model != before), (before, op, update.reason)
            applied += model != before

            refund.refresh_from_db()
            assert refund.status == model, (ops, before, op)
            if model != before:
                assert model in ALLOWED_TRANSITIONS[before]
            assert (refund.processed_at is not None) == (model in TERMINAL_STATUSES)
            if before in TERMINAL_STATUSES:
                assert refund.status == before
                assert refund.processed_at == final_processed_at
            if model in TERMINAL_STATUSES:
                final_processed_at = refund.processed_at

        assert AuditEvent.objects.filter(action="refund.status_changed", target_id=str(refund.pk)).count() == applied
