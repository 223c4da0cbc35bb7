"""Rule 10: OVERDUE_GRACE_DAYS. An installment is OVERDUE once due_date + grace < as of."""

import datetime
from decimal import Decimal

import pytest

from bnpl_admin.customers.models import Customer
from bnpl_admin.plans import ledger
from bnpl_admin.plans.models import Installment
from bnpl_admin.plans.services import check_overdue
from tests.factories import PlanFactory

pytestmark = pytest.mark.django_db


def _first_due_on_the_first():
    """A plan whose first installment falls due on 2026-11-01."""
    plan = PlanFactory(start_date=datetime.date(2026, 10, 1), total_amount=Decimal("300.00"))
    first = plan.installments.get(number=1)
    assert first.due_date == datetime.date(2026, 11, 1)
    return plan, first


def test_with_three_grace_days_due_on_the_first_is_late_as_of_the_fifth(settings):
    settings.OVERDUE_GRACE_DAYS = 3
    plan, first = _first_due_on_the_first()

    check_overdue(as_of=datetime.date(2026, 11, 4))
    first.refresh_from_db()
    assert first.status == Installment.Status.UPCOMING
    assert Customer.objects.get(pk=plan.customer_id).status == Customer.Status.NORMAL

    check_overdue(as_of=datetime.date(2026, 11, 5))
    first.refresh_from_db()
    assert first.status == Installment.Status.OVERDUE
    assert Customer.objects.get(pk=plan.customer_id).status == Customer.Status.DEBT_USER


def test_without_grace_it_is_late_the_day_after(settings):
    settings.OVERDUE_GRACE_DAYS = 0
    _, first = _first_due_on_the_first()

    check_overdue(as_of=datetime.date(2026, 11, 1))
    first.refresh_from_db()
    assert first.status == Installment.Status.UPCOMING
    check_overdue(as_of=datetime.date(2026, 11, 2))
    first.refresh_from_db()
    assert first.status == Installment.Status.OVERDUE


def test_a_reversal_reopens_an_installment_within_its_grace_as_upcoming(settings, actor):
    settings.OVERDUE_GRACE_DAYS = 30  # its first installment fell due about 4 days ago
    plan = PlanFactory(start_date=datetime.date.today() - datetime.timedelta(days=35))
    first = plan.installments.get(number=1)
    posted = ledger.pay_installments(installment_ids=[first.pk], actor=actor)

    ledger.reverse_payment(payment_id=posted.payment.pk, reason="Bounced", actor=actor)

    first.refresh_from_db()
    assert first.status == Installment.Status.UPCOMING
    assert Customer.objects.get(pk=plan.customer_id).status == Customer.Status.NORMAL


def test_the_health_page_shows_the_grace_days(settings, client, staff_user):
    settings.OVERDUE_GRACE_DAYS = 3
    client.force_login(staff_user)

    assert "grace 3 days" in client.get("/health/").content.decode()
