"""Rule 12: one collection case per debt episode; notes (PII masked), assignment, promises to pay."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.collection import services
from bnpl_admin.collection.models import Case, PromiseToPay
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans import ledger
from bnpl_admin.plans.services import check_overdue
from tests.factories import PlanFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def risk():
    return Actor.staff(UserFactory.risk())


@pytest.fixture
def debtor():
    """A customer whose first installment of a 300.00 plan is overdue (a case opened by the check)."""
    plan = PlanFactory(start_date=timezone.localdate() - datetime.timedelta(days=35), total_amount=Decimal("300.00"))
    check_overdue()
    return Customer.objects.get(pk=plan.customer_id)


def test_becoming_a_debt_user_opens_one_case_and_recovering_closes_it(debtor, risk):
    [case] = Case.objects.filter(customer=debtor)
    assert case.status == Case.Status.OPEN
    check_overdue()
    check_overdue(as_of=timezone.localdate() + datetime.timedelta(days=1))
    assert Case.objects.filter(customer=debtor).count() == 1

    ledger.record_payment(customer_id=debtor.customer_id, amount="100.00", reference="r1", actor=risk)

    case.refresh_from_db()
    assert case.status == Case.Status.CLOSED and case.closed_at is not None


def test_a_new_debt_episode_is_a_new_case(debtor, risk):
    posted = ledger.record_payment(customer_id=debtor.customer_id, amount="100.00", reference="r1", actor=risk)
    ledger.reverse_payment(payment_id=posted.payment.pk, reason="Bounced", actor=risk)

    assert [c.status for c in Case.objects.filter(customer=debtor).order_by("id")] == ["CLOSED", "OPEN"]


def test_a_note_with_a_card_number_is_stored_masked_and_audited(debtor, risk):
    case = Case.objects.get(customer=debtor)
    note = services.add_note(case_id=case.pk, text="Pays with card 8600 1234 5678 9012 on Friday", actor=risk)

    assert "1234 5678" not in note.text and note.masked
    event = AuditEvent.objects.get(action="case.note_added")
    assert event.customer_ref == debtor.customer_id and "1234 5678" not in str(event.data)
    plain = services.add_note(case_id=case.pk, text="Called, will pay on the 5th", actor=risk)
    assert plain.text == "Called, will pay on the 5th" and not plain.masked


@pytest.mark.parametrize("text", ["", "   ", "x" * 2001, "nul\x00"])
def test_a_bad_note_is_refused(debtor, risk, text):
    case = Case.objects.get(customer=debtor)
    with pytest.raises(services.InvalidCaseAction):
        services.add_note(case_id=case.pk, text=text, actor=risk)
    assert not case.notes.exists()


def test_cases_go_to_risk_users_only(debtor, risk):
    case = Case.objects.get(customer=debtor)
    support = UserFactory.support()
    with pytest.raises(services.InvalidCaseAction, match="cannot work collection cases"):
        services.assign(case_id=case.pk, assignee_username=support.username, actor=risk)

    services.assign(case_id=case.pk, assignee_username=risk.user.username, actor=risk)
    assert Case.objects.get(pk=case.pk).assignee == risk.user
    assert AuditEvent.objects.filter(action="case.assigned", target_id=str(case.pk)).exists()


def test_a_promise_is_kept_by_a_payment_on_its_date(debtor, risk):
    case = Case.objects.get(customer=debtor)
    today = timezone.localdate()
    promise = services.add_promise(case_id=case.pk, amount="80.00", due_date=today, actor=risk)
    ledger.record_payment(customer_id=debtor.customer_id, amount="50.00", reference="p1", actor=risk)
    check_overdue(as_of=today)
    assert PromiseToPay.objects.get(pk=promise.pk).status == PromiseToPay.Status.PENDING

    ledger.record_payment(customer_id=debtor.customer_id, amount="30.00", reference="p2", actor=risk)
    result = check_overdue(as_of=today)
    again = check_overdue(as_of=today)

    assert PromiseToPay.objects.get(pk=promise.pk).status == PromiseToPay.Status.KEPT
    assert (result.promises_kept, again.promises_kept) == (1, 0)


def test_a_promise_not_kept_is_broken_the_day_after_its_date(debtor, risk):
    case = Case.objects.get(customer=debtor)
    today = timezone.localdate()
    promise = services.add_promise(case_id=case.pk, amount="80.00", due_date=today, actor=risk)
    ledger.record_payment(customer_id=debtor.customer_id, amount="10.00", reference="p1", actor=risk)

    check_overdue(as_of=today)
    assert PromiseToPay.objects.get(pk=promise.pk).status == PromiseToPay.Status.PENDING
    result = check_overdue(as_of=today + datetime.timedelta(days=1))
    again = check_overdue(as_of=today + datetime.timedelta(days=2))

    assert PromiseToPay.objects.get(pk=promise.pk).status == PromiseToPay.Status.BROKEN
    assert (result.promises_broken, again.promises_broken) == (1, 0)


def test_payments_before_the_promise_do_not_keep_it(debtor, risk):
    ledger.record_payment(customer_id=debtor.customer_id, amount="99.00", reference="before", actor=risk)
    case = Case.objects.get(customer=debtor, status=Case.Status.OPEN)
    promise = services.add_promise(case_id=case.pk, amount="1.00", due_date=timezone.localdate(), actor=risk)

    check_overdue()
    assert PromiseToPay.objects.get(pk=promise.pk).status == PromiseToPay.Status.PENDING


@pytest.mark.parametrize(
    ("amount", "days"), [("0", 1), ("-1", 1), ("1.001", 1), ("NaN", 1), ("10.00", -1), ("10.00", 91)]
)
def test_a_bad_promise_is_refused(debtor, risk, amount, days):
    case = Case.objects.get(customer=debtor)
    with pytest.raises(services.InvalidCaseAction):
        services.add_promise(
            case_id=case.pk, amount=amount, due_date=timezone.localdate() + datetime.timedelta(days=days), actor=risk
        )
    assert not case.promises.exists()


def test_a_closed_case_cannot_be_worked(debtor, risk):
    case = Case.objects.get(customer=debtor)
    ledger.record_payment(customer_id=debtor.customer_id, amount="100.00", reference="r1", actor=risk)
    with pytest.raises(services.InvalidCaseAction, match="closed"):
        services.add_note(case_id=case.pk, text="late note", actor=risk)
