"""Races on the money ledger that only a real database with row locks can settle (PostgreSQL).

Each test releases its threads at a barrier (`tests.threads.run_together`) so that the calls
really overlap; whichever order the database picks, the books must end right: the invariants of
DESIGN.md hold, no cent is moved twice, and a customer is DEBT_USER exactly when an installment
is OVERDUE.
"""

import datetime
import functools
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans import ledger
from bnpl_admin.plans.errors import NothingOutstanding, PaymentConflict
from bnpl_admin.plans.models import Installment, Payment, PaymentAllocation, Plan
from bnpl_admin.plans.services import check_overdue
from bnpl_admin.refunds import services as refunds
from bnpl_admin.refunds.models import Refund
from tests.factories import CustomerFactory, PlanFactory
from tests.ledger.invariants import assert_ledger_consistent
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal
ACTOR = Actor.system("ledger-race-test")


def errors_in(results) -> list[BaseException]:
    return [r for r in results if isinstance(r, BaseException)]


def installments(plan) -> list[Installment]:
    return list(Installment.objects.filter(plan=plan).order_by("number"))


def paid_on(plan) -> Decimal:
    return Installment.objects.filter(plan=plan).aggregate(t=Sum("amount_paid"))["t"]


def assert_status_follows_overdue(*customers) -> None:
    """Rules 2, 3 and 7 after the dust settles: DEBT_USER exactly when something is OVERDUE."""
    for customer in customers:
        customer = Customer.objects.get(pk=customer.pk)
        overdue = Installment.objects.filter(customer=customer, status=Installment.Status.OVERDUE).exists()
        assert customer.status == (Customer.Status.DEBT_USER if overdue else Customer.Status.NORMAL), customer


def late_plan(**kwargs) -> Plan:
    """A 300.00 plan in 3 started 40 days ago: #1 fell due about 10 days ago (still UPCOMING
    until the checker runs), #2 and #3 are to come."""
    return PlanFactory(
        total_amount=D("300.00"), start_date=timezone.localdate() - datetime.timedelta(days=40), **kwargs
    )


def test_twenty_identical_payments_at_once_make_one():
    plan = PlanFactory(total_amount=D("300.00"))
    customer_id = plan.customer.customer_id

    def pay():
        return ledger.record_payment(customer_id=customer_id, amount="120.00", reference="ref-race", actor=ACTOR)

    results = run_together(*[pay] * 20)

    assert errors_in(results) == []
    payment = Payment.objects.get()
    assert (payment.reference, payment.amount, payment.status) == ("ref-race", D("120.00"), Payment.Status.POSTED)
    assert {r.payment.pk for r in results} == {payment.pk}
    assert sum(r.created for r in results) == 1
    assert [(i.amount_paid, i.status) for i in installments(plan)] == [
        (D("100.00"), Installment.Status.PAID),
        (D("20.00"), Installment.Status.UPCOMING),
        (D("0.00"), Installment.Status.UPCOMING),
    ]
    assert PaymentAllocation.objects.filter(payment=payment).aggregate(t=Sum("amount"))["t"] == D("120.00")
    assert AuditEvent.objects.filter(action="payment.recorded").count() == 1
    assert_ledger_consistent()


def test_one_reference_from_twenty_customers_at_once_is_one_payment_and_nineteen_conflicts():
    plans = [PlanFactory(total_amount=D("300.00")) for _ in range(20)]

    def pay(plan):
        return ledger.record_payment(
            customer_id=plan.customer.customer_id, amount="50.00", reference="ref-shared", actor=ACTOR
        )

    results = run_together(*[functools.partial(pay, plan) for plan in plans])

    unexpected = [e for e in errors_in(results) if not isinstance(e, PaymentConflict)]
    assert unexpected == []
    [winner] = [r for r in results if not isinstance(r, BaseException)]
    assert winner.created
    assert len(errors_in(results)) == 19
    payment = Payment.objects.get()
    assert payment.pk == winner.payment.pk
    assert [paid_on(plan) for plan in plans].count(D("50.00")) == 1
    assert sum(paid_on(plan) for plan in plans) == D("50.00")
    assert Plan.objects.get(installments__allocations__payment=payment).customer_id == payment.customer_id
    assert_ledger_consistent()


@pytest.mark.parametrize("refund_amount", ["300.00", "150.00"])
@pytest.mark.parametrize("attempt", range(5))
def test_a_payment_racing_a_refund_approval_on_the_same_plan_ends_consistent(refund_amount, attempt):
    """Approval first: the payment goes to what the refund left (nothing, for a full refund:
    refused cleanly). Payment first: the refund takes off what is still owed and the rest is owed
    back to the customer. Either way nothing is counted twice."""
    plan = PlanFactory(total_amount=D("300.00"))
    customer_id = plan.customer.customer_id
    refund = refunds.issue_refund(
        customer_id=customer_id, transaction_id="txn-race", amount=refund_amount, plan_id=plan.pk, actor=ACTOR
    ).refund

    paid, approved = run_together(
        lambda: ledger.record_payment(customer_id=customer_id, amount="150.00", reference="ref-race", actor=ACTOR),
        lambda: refunds.apply_merchant_status(refund_ref=refund.pk, status="approved", actor=ACTOR),
    )

    assert not isinstance(approved, BaseException), approved
    assert approved.applied
    refund = Refund.objects.get(pk=refund.pk)
    assert refund.status == Refund.Status.APPROVED
    assert refund.amount_applied + refund.amount_to_customer == refund.amount
    rows = installments(plan)
    if isinstance(paid, BaseException):
        # Only a full refund approved first leaves nothing to pay.
        assert isinstance(paid, NothingOutstanding) and refund_amount == "300.00", paid
        assert not Payment.objects.exists()
        assert (refund.amount_applied, refund.amount_to_customer) == (D("300.00"), D("0.00"))
    else:
        assert Payment.objects.get().amount == D("150.00")
        assert sum(i.amount_paid for i in rows) == D("150.00")
        assert refund.amount_to_customer <= D("150.00")
    assert sum(i.amount_refunded for i in rows) == refund.amount_applied
    # A full refund cancels the plan; 150 paid and 150 refunded leave nothing remaining.
    expected_plan = Plan.Status.CANCELLED if refund_amount == "300.00" else Plan.Status.COMPLETED
    assert Plan.objects.get(pk=plan.pk).status == expected_plan
    assert AuditEvent.objects.filter(action="refund.status_changed", target_id=str(refund.pk)).count() == 1
    assert_ledger_consistent()
    assert_status_follows_overdue(plan.customer)


@pytest.mark.parametrize(("amount", "ends"), [("100.00", Customer.Status.NORMAL), ("40.00", Customer.Status.DEBT_USER)])
@pytest.mark.parametrize("attempt", range(5))
def test_a_payment_racing_the_overdue_checker_ends_consistent(amount, ends, attempt):
    """#1 is past due but still UPCOMING. Whichever runs first, the payment goes to #1; paid in
    full the customer ends NORMAL (rule 3), in part DEBT_USER with #1 OVERDUE (rule 2)."""
    plan = late_plan()
    customer_id = plan.customer.customer_id

    paid, checked = run_together(
        lambda: ledger.record_payment(customer_id=customer_id, amount=amount, reference="ref-race", actor=ACTOR),
        lambda: check_overdue(actor=ACTOR),
    )

    assert errors_in([paid, checked]) == []
    first, second, third = installments(plan)
    assert first.amount_paid == D(amount)
    assert [second.amount_paid, third.amount_paid] == [D("0.00"), D("0.00")]
    expected_first = Installment.Status.PAID if ends == Customer.Status.NORMAL else Installment.Status.OVERDUE
    assert first.status == expected_first
    assert Customer.objects.get(pk=plan.customer.pk).status == ends
    assert_ledger_consistent()
    assert_status_follows_overdue(plan.customer)


@pytest.mark.parametrize("attempt", range(5))
def test_a_reversal_racing_a_payment_of_the_same_customer_ends_consistent(attempt):
    """#1 OVERDUE was paid by P1 (the customer NORMAL again). P1 is reversed while P2 pays
    100.00: P2 goes to #1 when the reversal came first (the customer NORMAL), to #2 otherwise (the
    reversal then leaves #1 OVERDUE: DEBT_USER at once, rule 7)."""
    plan = late_plan()
    customer = plan.customer
    check_overdue(actor=ACTOR)
    first_payment = ledger.record_payment(
        customer_id=customer.customer_id, amount="100.00", reference="ref-1", actor=ACTOR
    ).payment
    assert Customer.objects.get(pk=customer.pk).status == Customer.Status.NORMAL

    reversed_, paid = run_together(
        lambda: ledger.reverse_payment(payment_id=first_payment.pk, reason="Bounced", actor=ACTOR),
        lambda: ledger.record_payment(
            customer_id=customer.customer_id, amount="100.00", reference="ref-2", actor=ACTOR
        ),
    )

    assert errors_in([reversed_, paid]) == []
    assert Payment.objects.get(pk=first_payment.pk).status == Payment.Status.REVERSED
    [allocation] = PaymentAllocation.objects.filter(payment=paid.payment)
    first, second, _ = installments(plan)
    if allocation.installment_id == first.pk:  # the reversal first
        assert (first.status, second.amount_paid) == (Installment.Status.PAID, D("0.00"))
        assert Customer.objects.get(pk=customer.pk).status == Customer.Status.NORMAL
    else:
        assert allocation.installment_id == second.pk
        assert (first.status, first.amount_paid) == (Installment.Status.OVERDUE, D("0.00"))
        assert (second.status, second.amount_paid) == (Installment.Status.PAID, D("100.00"))
        assert Customer.objects.get(pk=customer.pk).status == Customer.Status.DEBT_USER
    assert sum(i.amount_paid for i in installments(plan)) == D("100.00")
    assert_ledger_consistent()
    assert_status_follows_overdue(customer)


def test_twenty_customers_paying_at_once_each_pay_their_own():
    """Payments of different customers do not wait on each other's locks and never cross."""
    plans = [late_plan(customer=CustomerFactory()) for _ in range(20)]
    check_overdue(actor=ACTOR)

    def pay(plan):
        return ledger.record_payment(
            customer_id=plan.customer.customer_id, amount="150.00", reference=f"ref-{plan.pk}", actor=ACTOR
        )

    results = run_together(*[functools.partial(pay, plan) for plan in plans])

    assert errors_in(results) == []
    assert [paid_on(plan) for plan in plans] == [D("150.00")] * 20
    assert set(Customer.objects.values_list("status", flat=True)) == {Customer.Status.NORMAL}
    assert_ledger_consistent()
