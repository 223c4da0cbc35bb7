"""Customer.overdue_since: the due date of the oldest OVERDUE installment, kept by the services."""

import datetime

import pytest
from django.utils import timezone

from bnpl_admin.audit.services import Actor
from bnpl_admin.customers.services import override_status
from bnpl_admin.plans.ledger import pay_installments
from bnpl_admin.plans.services import check_overdue
from tests.factories import CustomerFactory, PlanFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")


def test_the_checker_dates_the_debt_by_the_oldest_overdue_installment():
    start = timezone.localdate() - datetime.timedelta(days=75)
    plan = PlanFactory(start_date=start)
    first, second = plan.installments.order_by("number")[:2]

    check_overdue()

    plan.customer.refresh_from_db()
    assert plan.customer.status == "DEBT_USER"
    assert plan.customer.overdue_since == first.due_date < second.due_date


def test_paying_the_oldest_moves_the_date_and_paying_all_clears_it():
    plan = PlanFactory(start_date=timezone.localdate() - datetime.timedelta(days=75))
    check_overdue()
    first, second = plan.installments.filter(status="OVERDUE").order_by("number")

    pay_installments(installment_ids=[first.pk], actor=ACTOR)
    plan.customer.refresh_from_db()
    assert plan.customer.overdue_since == second.due_date and plan.customer.status == "DEBT_USER"

    pay_installments(installment_ids=[second.pk], actor=ACTOR)
    plan.customer.refresh_from_db()
    assert plan.customer.overdue_since is None and plan.customer.status == "NORMAL"


def test_a_debt_user_made_so_by_hand_gets_a_date_once_something_is_overdue():
    customer = CustomerFactory()
    plan = PlanFactory(customer=customer, start_date=timezone.localdate() - datetime.timedelta(days=40))
    override_status(customer_id=customer.customer_id, status="DEBT_USER", reason="fraud check", actor=ACTOR)
    customer.refresh_from_db()
    assert customer.overdue_since is None

    check_overdue()

    customer.refresh_from_db()
    assert customer.overdue_since == plan.installments.get(number=1).due_date
