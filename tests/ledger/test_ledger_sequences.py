"""Sequences of ledger moves the worked examples do not cover, each checked against DESIGN.md."""

from decimal import Decimal

import pytest

from bnpl_admin.audit.services import Actor
from bnpl_admin.plans import ledger
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.refunds import services as refunds
from bnpl_admin.refunds.models import Refund
from tests.factories import PlanFactory
from tests.ledger.invariants import assert_ledger_consistent

pytestmark = pytest.mark.django_db
D = Decimal
MERCHANT = Actor.system("merchant-test")


@pytest.fixture
def plan_300_with_100_refunded(customer, actor):
    """A 300.00 plan in 3, nothing paid, a 100.00 refund approved (#3 CANCELLED)."""
    plan = PlanFactory(customer=customer, total_amount=D("300.00"))
    refund = refunds.issue_refund(
        customer_id=customer.customer_id, transaction_id="txn-part", amount="100.00", plan_id=plan.pk, actor=actor
    ).refund
    refunds.apply_merchant_status(refund_ref=refund.pk, status="approved", actor=MERCHANT)
    return plan


def test_a_partly_refunded_plan_without_payments_can_be_cancelled(actor, plan_300_with_100_refunded):
    """Rule 9 refuses only plans with a POSTED payment: the rest is written off, the refund's
    applied part stays what it was."""
    plan = plan_300_with_100_refunded
    ledger.cancel_plan(plan_id=plan.pk, reason="Order never shipped", actor=actor)

    rows = list(Installment.objects.filter(plan=plan).order_by("number"))
    assert [(i.amount_refunded, i.amount_remaining, i.status) for i in rows] == [
        (D("100.00"), D("0.00"), "CANCELLED")
    ] * 3
    assert Plan.objects.get(pk=plan.pk).status == Plan.Status.CANCELLED
    refund = Refund.objects.get(transaction_id="txn-part")
    assert (refund.amount_applied, refund.amount_to_customer) == (D("100.00"), D("0.00"))


def test_the_invariant_check_accepts_a_plan_cancelled_after_a_partial_refund(actor, plan_300_with_100_refunded):
    ledger.cancel_plan(plan_id=plan_300_with_100_refunded.pk, reason="Order never shipped", actor=actor)
    assert_ledger_consistent()
