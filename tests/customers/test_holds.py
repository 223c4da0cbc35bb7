"""Rule 11: a risk override to NORMAL while overdue is a hold the checker respects until its date."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers.errors import InvalidOverride
from bnpl_admin.customers.models import Customer
from bnpl_admin.customers.services import override_status
from bnpl_admin.plans import ledger
from bnpl_admin.plans.models import Installment
from bnpl_admin.plans.services import check_overdue
from tests.factories import PlanFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def risk():
    return Actor.staff(UserFactory.risk())


@pytest.fixture
def overdue_customer():
    plan = PlanFactory(start_date=timezone.localdate() - datetime.timedelta(days=35), total_amount=Decimal("300.00"))
    check_overdue()
    customer = Customer.objects.get(pk=plan.customer_id)
    assert customer.status == Customer.Status.DEBT_USER
    return customer


def _status(customer):
    return Customer.objects.get(pk=customer.pk).status


def test_a_hold_keeps_the_customer_normal_until_its_date_and_the_check_after_flips(overdue_customer, risk):
    today = timezone.localdate()
    until = today + datetime.timedelta(days=10)
    override_status(
        customer_id=overdue_customer.customer_id,
        status="NORMAL",
        reason="Promised on the phone",
        hold_until=until,
        actor=risk,
    )
    held = Customer.objects.get(pk=overdue_customer.pk)
    assert (held.status, held.hold_until, held.hold_reason, held.hold_set_by) == (
        "NORMAL",
        until,
        "Promised on the phone",
        risk.user,
    )

    for as_of in (today, today + datetime.timedelta(days=5), until):
        result = check_overdue(as_of=as_of)
        assert _status(overdue_customer) == Customer.Status.NORMAL, as_of
        assert result.customers_marked_debt == 0

    result = check_overdue(as_of=until + datetime.timedelta(days=1))
    after = Customer.objects.get(pk=overdue_customer.pk)
    assert (after.status, after.hold_until, after.hold_reason, after.hold_set_by) == ("DEBT_USER", None, "", None)
    assert result.customers_marked_debt == 1


def test_installments_of_a_held_customer_still_become_overdue(overdue_customer, risk):
    today = timezone.localdate()
    override_status(
        customer_id=overdue_customer.customer_id,
        status="NORMAL",
        reason="Hardship",
        actor=risk,
        hold_until=today + datetime.timedelta(days=90),
    )
    check_overdue(as_of=today + datetime.timedelta(days=40))

    assert Installment.objects.filter(customer=overdue_customer, status="OVERDUE").count() == 2
    assert _status(overdue_customer) == Customer.Status.NORMAL
    assert Customer.objects.get(pk=overdue_customer.pk).overdue_since is not None


def test_a_payment_that_clears_the_debt_ends_the_hold(overdue_customer, risk):
    today = timezone.localdate()
    override_status(
        customer_id=overdue_customer.customer_id,
        status="NORMAL",
        reason="Hardship",
        actor=risk,
        hold_until=today + datetime.timedelta(days=30),
    )
    ledger.record_payment(customer_id=overdue_customer.customer_id, amount="100.00", reference="r-1", actor=risk)

    customer = Customer.objects.get(pk=overdue_customer.pk)
    assert (customer.status, customer.hold_until) == ("NORMAL", None)
    assert AuditEvent.objects.filter(action="customer.hold_ended", customer_ref=customer.customer_id).exists()


@pytest.mark.parametrize(
    ("days", "reason", "message"),
    [
        (91, "Hardship", "between today and 90 days"),
        (-1, "Hardship", "between today and 90 days"),
        (None, "Hardship", "needs a hold date"),
        (10, "   ", "A reason is required"),
    ],
)
def test_a_hold_out_of_range_or_without_reason_is_refused(overdue_customer, risk, days, reason, message):
    until = None if days is None else timezone.localdate() + datetime.timedelta(days=days)
    with pytest.raises(InvalidOverride, match=message):
        override_status(
            customer_id=overdue_customer.customer_id, status="NORMAL", reason=reason, hold_until=until, actor=risk
        )
    customer = Customer.objects.get(pk=overdue_customer.pk)
    assert (customer.status, customer.hold_until) == ("DEBT_USER", None)


def test_a_customer_with_nothing_overdue_needs_no_hold(risk):
    plan = PlanFactory()
    override_status(customer_id=plan.customer.customer_id, status="DEBT_USER", reason="Fraud check", actor=risk)
    override_status(customer_id=plan.customer.customer_id, status="NORMAL", reason="Cleared", actor=risk)
    customer = Customer.objects.get(pk=plan.customer_id)
    assert (customer.status, customer.hold_until) == ("NORMAL", None)


def test_a_reversal_during_a_hold_waits_for_it(overdue_customer, risk):
    today = timezone.localdate()
    override_status(
        customer_id=overdue_customer.customer_id,
        status="NORMAL",
        reason="Hardship",
        actor=risk,
        hold_until=today + datetime.timedelta(days=30),
    )
    posted = ledger.record_payment(customer_id=overdue_customer.customer_id, amount="50.00", reference="r", actor=risk)
    ledger.reverse_payment(payment_id=posted.payment.pk, reason="Bounced", actor=risk)

    assert _status(overdue_customer) == Customer.Status.NORMAL
    assert Customer.objects.get(pk=overdue_customer.pk).hold_until == today + datetime.timedelta(days=30)


def test_the_override_page_asks_for_a_hold_date_and_says_what_happens(overdue_customer, client):
    risk_user = UserFactory.risk()
    client.force_login(risk_user)
    url = f"/customers/{overdue_customer.customer_id}/status/"
    assert 'name="hold_until"' in client.get(url).content.decode()

    refused = client.post(url, {"status": "NORMAL", "reason": "Called"})
    assert refused.status_code == 200 and "needs a hold date" in refused.content.decode()
    assert _status(overdue_customer) == Customer.Status.DEBT_USER

    until = timezone.localdate() + datetime.timedelta(days=7)
    done = client.post(url, {"status": "NORMAL", "reason": "Called", "hold_until": until.isoformat()}, follow=True)
    page = done.content.decode()
    assert f"on hold until {until:%Y-%m-%d}" in page
    assert "makes them a Debt user again" in page
    assert Customer.objects.get(pk=overdue_customer.pk).hold_until == until
