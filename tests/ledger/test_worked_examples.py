"""The worked examples of the money ledger (rules 6-9), through the services."""

import datetime
from decimal import Decimal

import pytest

from bnpl_admin.audit.services import Actor
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans import ledger
from bnpl_admin.plans.errors import NothingOutstanding, PaymentConflict, PaymentError, PaymentExceedsBalance
from bnpl_admin.plans.models import Installment, Payment, Plan
from bnpl_admin.plans.services import check_overdue
from bnpl_admin.refunds import services as refunds
from bnpl_admin.refunds.models import Refund
from tests.factories import CustomerFactory, PlanFactory
from tests.ledger.invariants import assert_ledger_consistent

pytestmark = pytest.mark.django_db
D = Decimal
MERCHANT = Actor.system("merchant-test")


def installments(plan):
    return list(Installment.objects.filter(plan=plan).order_by("number"))


def approve(refund):
    return refunds.apply_merchant_status(refund_ref=refund.pk, status="approved", actor=MERCHANT)


def issue(customer, plan, amount, txn, actor):
    return refunds.issue_refund(
        customer_id=customer.customer_id, transaction_id=txn, amount=amount, plan_id=plan.pk, actor=actor
    ).refund


@pytest.fixture
def plan_300_first_paid(customer, actor):
    plan = PlanFactory(customer=customer, total_amount=D("300.00"))
    first = installments(plan)[0]
    ledger.pay_installments(installment_ids=[first.pk], actor=actor)
    return plan


class TestRefundsReduceTheSchedule:
    def test_half_refund_comes_off_the_last_installments(self, customer, actor, plan_300_first_paid):
        plan = plan_300_first_paid
        refund = issue(customer, plan, "150.00", "txn-a", actor)
        approve(refund)

        first, second, third = installments(plan)
        assert (first.status, first.amount_remaining) == (Installment.Status.PAID, D("0.00"))
        assert (second.status, second.amount_remaining, second.amount_refunded) == ("UPCOMING", D("50.00"), D("50.00"))
        assert (third.status, third.amount_remaining, third.amount_refunded) == ("CANCELLED", D("0.00"), D("100.00"))
        refund.refresh_from_db()
        assert (refund.amount_applied, refund.amount_to_customer) == (D("150.00"), D("0.00"))
        assert Plan.objects.get(pk=plan.pk).status == Plan.Status.ACTIVE
        assert_ledger_consistent()

    def test_a_second_refund_cancels_the_plan_and_owes_the_customer_what_they_paid(
        self, customer, actor, plan_300_first_paid
    ):
        plan = plan_300_first_paid
        approve(issue(customer, plan, "150.00", "txn-a", actor))
        second_refund = issue(customer, plan, "150.00", "txn-b", actor)
        approve(second_refund)

        assert [i.amount_remaining for i in installments(plan)] == [D("0.00")] * 3
        assert Plan.objects.get(pk=plan.pk).status == Plan.Status.CANCELLED
        second_refund.refresh_from_db()
        assert (second_refund.amount_applied, second_refund.amount_to_customer) == (D("50.00"), D("100.00"))
        assert_ledger_consistent()

    def test_a_replayed_approval_moves_nothing(self, customer, actor, plan_300_first_paid):
        refund = issue(customer, plan_300_first_paid, "150.00", "txn-a", actor)
        approve(refund)
        again = approve(refund)

        assert not again.applied
        assert sum(i.amount_refunded for i in installments(plan_300_first_paid)) == D("150.00")

    def test_a_refund_without_a_plan_is_all_owed_to_the_customer(self, customer, actor):
        refund = refunds.issue_refund(
            customer_id=customer.customer_id, transaction_id="txn-np", amount="40.00", actor=actor
        ).refund
        approve(refund)
        refund.refresh_from_db()
        assert (refund.amount_applied, refund.amount_to_customer) == (D("0.00"), D("40.00"))

    def test_the_customer_recovers_when_the_refund_clears_the_overdue_installment(self, actor):
        customer = CustomerFactory()
        today = datetime.date.today()
        plan = PlanFactory(customer=customer, total_amount=D("300.00"), start_date=today - datetime.timedelta(days=35))
        check_overdue()
        assert Customer.objects.get(pk=customer.pk).status == Customer.Status.DEBT_USER
        approve(issue(customer, plan, "300.00", "txn-all", actor))

        assert Customer.objects.get(pk=customer.pk).status == Customer.Status.NORMAL
        assert Plan.objects.get(pk=plan.pk).status == Plan.Status.CANCELLED
        assert {i.status for i in installments(plan)} == {Installment.Status.CANCELLED}
        assert_ledger_consistent()


@pytest.fixture
def overdue_first(actor):
    """A 300.00 plan in 3 whose #1 is OVERDUE (the customer DEBT_USER) and #2 UPCOMING."""
    customer = CustomerFactory()
    start = datetime.date.today() - datetime.timedelta(days=35)
    plan = PlanFactory(customer=customer, total_amount=D("300.00"), start_date=start)
    check_overdue()
    return customer, plan


class TestPaymentsByAmount:
    def test_an_amount_goes_to_the_overdue_installment_first(self, actor, overdue_first):
        customer, plan = overdue_first
        posted = ledger.record_payment(
            customer_id=customer.customer_id, amount="150.00", reference="ref-1", actor=actor
        )

        first, second, third = installments(plan)
        assert (first.status, first.amount_paid) == (Installment.Status.PAID, D("100.00"))
        assert (second.status, second.amount_remaining) == (Installment.Status.UPCOMING, D("50.00"))
        assert third.amount_remaining == D("100.00")
        assert posted.created and posted.customer_status == Customer.Status.NORMAL
        assert Customer.objects.get(pk=customer.pk).status == Customer.Status.NORMAL
        assert [(a.installment_id, a.amount) for a in posted.payment.allocations_in_order] == [
            (first.pk, D("100.00")),
            (second.pk, D("50.00")),
        ]
        assert_ledger_consistent()

    def test_reversing_it_makes_the_customer_a_debt_user_again(self, actor, overdue_first):
        customer, plan = overdue_first
        posted = ledger.record_payment(
            customer_id=customer.customer_id, amount="150.00", reference="ref-1", actor=actor
        )
        payment = ledger.reverse_payment(payment_id=posted.payment.pk, reason="Bounced transfer", actor=actor)

        assert payment.status == Payment.Status.REVERSED
        first, second, _ = installments(plan)
        assert (first.status, first.amount_remaining) == (Installment.Status.OVERDUE, D("100.00"))
        assert (second.status, second.amount_remaining) == (Installment.Status.UPCOMING, D("100.00"))
        assert Customer.objects.get(pk=customer.pk).status == Customer.Status.DEBT_USER
        with pytest.raises(PaymentError, match="Payment is already reversed"):
            ledger.reverse_payment(payment_id=posted.payment.pk, reason="again", actor=actor)
        assert_ledger_consistent()

    def test_the_same_reference_is_the_same_payment(self, actor, overdue_first):
        customer, plan = overdue_first
        first = ledger.record_payment(customer_id=customer.customer_id, amount="10.00", reference="r", actor=actor)
        again = ledger.record_payment(customer_id=customer.customer_id, amount="10.00", reference="r", actor=actor)
        assert not again.created and again.payment.pk == first.payment.pk
        with pytest.raises(PaymentConflict):
            ledger.record_payment(customer_id=customer.customer_id, amount="11.00", reference="r", actor=actor)
        assert Payment.objects.count() == 1
        assert sum(i.amount_paid for i in installments(plan)) == D("10.00")

    @pytest.mark.parametrize("amount", ["0", "-5", "1.001", "NaN", "abc", "300.01"])
    def test_bad_amounts_change_nothing(self, actor, overdue_first, amount):
        customer, plan = overdue_first
        with pytest.raises(PaymentError if amount != "300.01" else PaymentExceedsBalance):
            ledger.record_payment(customer_id=customer.customer_id, amount=amount, reference="r", actor=actor)
        assert not Payment.objects.exists()
        assert all(i.amount_paid == 0 for i in installments(plan))

    def test_over_the_balance_names_it(self, actor, overdue_first):
        customer, _ = overdue_first
        with pytest.raises(PaymentExceedsBalance, match=r"outstanding balance \(300.00\)"):
            ledger.record_payment(customer_id=customer.customer_id, amount="300.01", reference="r", actor=actor)

    def test_nothing_outstanding(self, actor):
        customer = CustomerFactory()
        with pytest.raises(NothingOutstanding, match="Nothing is outstanding"):
            ledger.record_payment(customer_id=customer.customer_id, amount="1.00", reference="r", actor=actor)

    def test_another_customers_plan_is_refused(self, actor, overdue_first):
        customer, _ = overdue_first
        other = PlanFactory()
        with pytest.raises(PaymentError, match="not found for user"):
            ledger.record_payment(
                customer_id=customer.customer_id, amount="1.00", reference="r", plan_id=other.pk, actor=actor
            )
        assert not Payment.objects.exists()


class TestCancellation:
    def test_a_plan_without_payments_is_written_off(self, customer, actor):
        plan = PlanFactory(customer=customer, total_amount=D("300.00"))
        cancelled = ledger.cancel_plan(plan_id=plan.pk, reason="Order never shipped", actor=actor)

        assert cancelled.status == Plan.Status.CANCELLED
        assert {(i.status, i.amount_remaining) for i in installments(plan)} == {("CANCELLED", D("0.00"))}
        with pytest.raises(PaymentError, match=r"Plan .* is cancelled"):
            ledger.record_payment(
                customer_id=customer.customer_id, amount="1.00", reference="r", plan_id=plan.pk, actor=actor
            )
        assert_ledger_consistent()

    def test_a_plan_with_a_payment_is_refused(self, customer, actor, plan_300_first_paid):
        with pytest.raises(Exception, match="Only plans without payments can be cancelled; issue a refund instead"):
            ledger.cancel_plan(plan_id=plan_300_first_paid.pk, reason="x", actor=actor)
        assert Plan.objects.get(pk=plan_300_first_paid.pk).status == Plan.Status.ACTIVE

    def test_a_reversed_payment_no_longer_blocks_it(self, customer, actor, plan_300_first_paid):
        payment = Payment.objects.get()
        ledger.reverse_payment(payment_id=payment.pk, reason="Mistake", actor=actor)
        ledger.cancel_plan(plan_id=plan_300_first_paid.pk, reason="Order never shipped", actor=actor)
        assert Plan.objects.get(pk=plan_300_first_paid.pk).status == Plan.Status.CANCELLED
        assert not Refund.objects.exists()
        assert_ledger_consistent()
