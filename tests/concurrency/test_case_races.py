"""Rule 12 under races (PostgreSQL): one collection case per debt episode, whatever runs at once."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from bnpl_admin.audit.services import Actor
from bnpl_admin.collection import services as collection
from bnpl_admin.collection.models import Case, PromiseToPay
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans import ledger
from bnpl_admin.plans.services import check_overdue
from tests.factories import PlanFactory
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ACTOR = Actor.system("case-race-test")


def _late_plans(n: int):
    start = timezone.localdate() - datetime.timedelta(days=35)
    return [PlanFactory(total_amount=Decimal("300.00"), start_date=start) for _ in range(n)]


def test_twenty_checker_runs_at_once_open_one_case_per_debtor():
    plans = _late_plans(5)

    results = run_together(*[check_overdue for _ in range(20)])

    assert [r for r in results if isinstance(r, BaseException)] == []
    for plan in plans:
        assert Case.objects.filter(customer_id=plan.customer_id, status=Case.Status.OPEN).count() == 1
    assert sum(r.cases_opened for r in results) == 5


def test_checker_runs_racing_payments_leave_one_case_per_episode():
    """Ten checker runs and ten payments that clear the debt, at once: each customer ends with at
    most one open case, an open case exactly when still DEBT_USER, and a closed one per recovery."""
    plans = _late_plans(10)
    calls = [check_overdue for _ in range(10)] + [
        (
            lambda p=plan: ledger.record_payment(
                customer_id=p.customer.customer_id, amount="100.00", reference=f"race-{p.pk}", actor=ACTOR
            )
        )
        for plan in plans
    ]

    results = run_together(*calls)

    assert [r for r in results if isinstance(r, BaseException)] == []
    for plan in plans:
        customer = Customer.objects.get(pk=plan.customer_id)
        assert customer.status == Customer.Status.NORMAL  # the payment cleared the only overdue one
        assert not Case.objects.filter(customer=customer, status=Case.Status.OPEN).exists()
        assert Case.objects.filter(customer=customer).count() <= 1
    # Replays change nothing: another run opens no case and moves no promise.
    again = check_overdue()
    assert (again.cases_opened, again.promises_kept, again.promises_broken) == (0, 0, 0)


def test_a_promise_is_evaluated_once_by_racing_checker_runs():
    [plan] = _late_plans(1)
    check_overdue()
    case = Case.objects.get(customer_id=plan.customer_id)
    promise = collection.add_promise(case_id=case.pk, amount="50.00", due_date=timezone.localdate(), actor=ACTOR)
    ledger.record_payment(customer_id=plan.customer.customer_id, amount="60.00", reference="keep", actor=ACTOR)

    results = run_together(*[check_overdue for _ in range(10)])

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert PromiseToPay.objects.get(pk=promise.pk).status == PromiseToPay.Status.KEPT
    assert sum(r.promises_kept for r in results) == 1
