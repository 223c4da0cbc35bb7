"""Races that only a real database with row locks can settle (PostgreSQL).

Each test starts its threads at a barrier so that the calls really overlap; every thread has
its own database connection and closes it when done.
"""

import datetime
import functools
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers import services as customer_services
from bnpl_admin.customers.errors import CustomerAlreadyExists
from bnpl_admin.customers.models import Customer
from bnpl_admin.customers.services import create_customer
from bnpl_admin.plans.errors import DebtUserError, PaymentError
from bnpl_admin.plans.ledger import pay_installments
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.plans.services import check_overdue, create_plan
from bnpl_admin.refunds.errors import RefundLimitExceeded
from bnpl_admin.refunds.models import Refund
from bnpl_admin.refunds.services import issue_refund
from tests.factories import CustomerFactory, PlanFactory
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal
ACTOR = Actor.system("race-test")


def test_twenty_identical_refund_requests_create_exactly_one_refund():
    customer = CustomerFactory()

    def refund():
        return issue_refund(customer_id=customer.customer_id, transaction_id="txn-race", amount="75.00", actor=ACTOR)

    results = run_together(*[refund] * 20)

    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    assert Refund.objects.filter(transaction_id="txn-race").count() == 1
    refund = Refund.objects.get(transaction_id="txn-race")
    assert {r.refund.pk for r in results} == {refund.pk}
    assert sum(r.created for r in results) == 1
    assert AuditEvent.objects.filter(action="refund.issued").count() == 1


def test_concurrent_refunds_on_one_plan_never_exceed_its_total():
    plan = PlanFactory(total_amount=D("500.00"))
    cid = plan.customer.customer_id

    def refund(n: int):
        return issue_refund(customer_id=cid, transaction_id=f"txn-{n}", amount="100.00", plan_id=plan.pk, actor=ACTOR)

    results = run_together(*[functools.partial(refund, n) for n in range(10)])

    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, RefundLimitExceeded)]
    assert not unexpected, unexpected
    refunded = sum(Refund.objects.filter(plan=plan).values_list("amount", flat=True))
    assert refunded <= plan.total_amount
    assert refunded == D("500.00")
    assert sum(1 for r in results if not isinstance(r, BaseException) and r.created) == 5


@pytest.mark.parametrize("attempt", range(20))
def test_a_plan_never_slips_past_a_concurrent_switch_to_debt(attempt):
    # An installment due last month: check_overdue will flip this customer to DEBT_USER.
    customer = CustomerFactory()
    PlanFactory(customer=customer, start_date=timezone.localdate() - datetime.timedelta(days=45), installment_count=2)
    plans_before = set(Plan.objects.filter(customer=customer).values_list("pk", flat=True))

    new_plan, overdue = run_together(
        lambda: create_plan(customer_id=customer.customer_id, total_amount="120.00", actor=ACTOR),
        lambda: check_overdue(actor=ACTOR),
    )

    assert not isinstance(overdue, BaseException), overdue
    customer.refresh_from_db()
    assert customer.status == Customer.Status.DEBT_USER
    [flip] = AuditEvent.objects.filter(action="customer.status_changed", customer_ref=customer.customer_id)
    new_plans = set(Plan.objects.filter(customer=customer).values_list("pk", flat=True)) - plans_before
    if isinstance(new_plan, DebtUserError):
        assert not new_plans
        assert AuditEvent.objects.filter(action="plan.created", customer_ref=customer.customer_id).count() == 1
    else:
        assert not isinstance(new_plan, BaseException), new_plan
        assert new_plans == {new_plan.pk}
        # The plan was written while the customer was still NORMAL: its audit row precedes the flip.
        created = AuditEvent.objects.get(action="plan.created", target_id=str(new_plan.pk))
        assert created.pk < flip.pk
        assert Installment.objects.filter(plan_id=new_plan.pk).count() == 3


def test_the_same_installment_paid_twice_at_once_is_paid_once():
    plan = PlanFactory()
    installment = plan.installments.get(number=1)

    results = run_together(
        lambda: pay_installments(installment_ids=[installment.pk], actor=ACTOR),
        lambda: pay_installments(installment_ids=[installment.pk], actor=ACTOR),
    )

    successes = [r for r in results if not isinstance(r, BaseException)]
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(successes) == 1
    assert len(failures) == 1
    assert isinstance(failures[0], PaymentError), failures[0]
    installment.refresh_from_db()
    assert installment.status == Installment.Status.PAID
    assert AuditEvent.objects.filter(action="payment.recorded").count() == 1


def _checker_runs_while_a_status_change_waits(monkeypatch, change, *, as_of: datetime.date) -> tuple[list, bool]:
    """Run `change()` in a thread until it is about to change a customer's status, start the overdue
    checker in another thread meanwhile, then let the change finish. Returns the errors of both
    threads and whether the checker was still waiting 1 s after it started (it should be: the
    debt-status lock orders it after the change)."""
    decided = threading.Event()
    resume = threading.Event()
    change_status = customer_services.change_status

    def change_status_when_told(**kwargs):
        decided.set()
        resume.wait(10)
        return change_status(**kwargs)

    monkeypatch.setattr(customer_services, "change_status", change_status_when_told)
    errors: list[BaseException] = []

    def run(function):
        try:
            function()
        except BaseException as exc:
            errors.append(exc)
        finally:
            resume.set()
            connection.close()

    changer = threading.Thread(target=run, args=(change,))
    changer.start()
    assert decided.wait(10), "the change never reached its status change"
    checker = threading.Thread(target=run, args=(lambda: check_overdue(as_of=as_of, actor=ACTOR),))
    checker.start()
    checker.join(1)
    checker_waited = checker.is_alive()
    resume.set()
    changer.join(10)
    checker.join(10)
    assert not changer.is_alive() and not checker.is_alive()
    return errors, checker_waited


def test_a_payment_racing_the_overdue_checker_never_leaves_a_normal_customer_with_an_overdue_installment(monkeypatch):
    """record_payment has seen "no OVERDUE left" and is about to restore NORMAL when check_overdue
    marks the customer's next installment OVERDUE: the customer must end up DEBT_USER."""
    plan = PlanFactory(start_date=datetime.date(2025, 1, 10))  # due Feb 10, Mar 10, Apr 10
    check_overdue(as_of=datetime.date(2025, 3, 1), actor=ACTOR)  # #1 OVERDUE, customer DEBT_USER
    first = plan.installments.get(number=1)

    errors, checker_waited = _checker_runs_while_a_status_change_waits(
        monkeypatch,
        lambda: pay_installments(installment_ids=[first.pk], actor=ACTOR),
        as_of=datetime.date(2025, 3, 20),  # #2 (Mar 10) becomes OVERDUE
    )

    assert errors == []
    assert checker_waited, "the checker must wait for the payment's transaction"
    customer = Customer.objects.get(pk=plan.customer.pk)
    overdue = list(plan.installments.filter(status=Installment.Status.OVERDUE).values_list("number", flat=True))
    assert overdue == [2]
    assert customer.status == Customer.Status.DEBT_USER


def test_the_same_customer_created_twice_at_once_is_created_once():
    def create():
        return create_customer(
            customer_id="usr-twin",
            full_name="Twin",
            phone_number="+998901112233",
            passport_number="AA7654321",
            card_number="4111111111111111",
            date_of_birth=None,
            actor=ACTOR,
        )

    results = run_together(create, create)

    assert sum(isinstance(r, Customer) for r in results) == 1
    assert sum(isinstance(r, CustomerAlreadyExists) for r in results) == 1
    assert Customer.objects.filter(customer_id="usr-twin").count() == 1
    assert AuditEvent.objects.filter(action="customer.created").count() == 1


def test_an_override_racing_the_overdue_checker_is_ordered_before_it_and_every_change_is_audited(monkeypatch):
    """A risk officer puts an overdue customer on hold (NORMAL until tomorrow) while a checker run
    of the day after is flipping the customer's next installments: the two never interleave, so
    the customer ends DEBT_USER and the audit trail tells both changes in order (NORMAL by hand,
    then DEBT_USER by the checker)."""
    plan = PlanFactory(start_date=datetime.date(2025, 1, 10))  # due Feb 10, Mar 10, Apr 10
    check_overdue(as_of=datetime.date(2025, 3, 1), actor=ACTOR)  # #1 OVERDUE, customer DEBT_USER
    customer_id = plan.customer.customer_id
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    errors, checker_waited = _checker_runs_while_a_status_change_waits(
        monkeypatch,
        lambda: customer_services.override_status(
            customer_id=customer_id, status="NORMAL", reason="call", hold_until=tomorrow, actor=ACTOR
        ),
        as_of=tomorrow + datetime.timedelta(days=1),  # the hold is over; #2 and #3 become OVERDUE
    )

    assert errors == []
    assert checker_waited, "the checker must wait for the override's transaction"
    customer = Customer.objects.get(customer_id=customer_id)
    assert customer.status == Customer.Status.DEBT_USER
    assert customer.overdue_since == datetime.date(2025, 2, 10)
    changes = [
        (e.data["from"], e.data["to"])
        for e in AuditEvent.objects.filter(action="customer.status_changed", customer_ref=customer_id).order_by("id")
    ]
    assert changes == [("NORMAL", "DEBT_USER"), ("DEBT_USER", "NORMAL"), ("NORMAL", "DEBT_USER")]
