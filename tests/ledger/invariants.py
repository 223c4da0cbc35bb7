"""The invariants of DESIGN.md's money ledger, checked over the whole database."""

from decimal import Decimal

from django.db.models import Sum

from bnpl_admin.customers.models import Customer
from bnpl_admin.plans.models import OPEN_STATUSES, Installment, Payment, PaymentAllocation, Plan
from bnpl_admin.refunds.models import Refund

ZERO = Decimal("0.00")


def assert_ledger_consistent() -> None:
    for plan in Plan.objects.prefetch_related("installments"):
        rows = list(plan.installments.all())
        due = sum((i.amount_due for i in rows), start=ZERO)
        paid = sum((i.amount_paid for i in rows), start=ZERO)
        refunded = sum((i.amount_refunded for i in rows), start=ZERO)
        left = sum((i.amount_remaining for i in rows), start=ZERO)
        assert due == plan.total_amount, plan
        assert paid + refunded + left == plan.total_amount, plan
        for i in rows:
            assert min(i.amount_paid, i.amount_refunded, i.amount_remaining) >= 0, i
            assert i.amount_remaining == i.amount_due - i.amount_paid - i.amount_refunded, i
            posted = PaymentAllocation.objects.filter(installment=i, payment__status=Payment.Status.POSTED)
            assert (posted.aggregate(t=Sum("amount"))["t"] or ZERO) == i.amount_paid, i
        approved = plan.refunds.filter(status=Refund.Status.APPROVED)
        applied = approved.aggregate(t=Sum("amount_applied"))["t"] or ZERO
        owed_back = approved.aggregate(t=Sum("amount_to_customer"))["t"] or ZERO
        refunded_total = approved.aggregate(t=Sum("amount"))["t"] or ZERO
        if plan.status == Plan.Status.CANCELLED:
            # A cancellation (rule 9) writes the rest off into amount_refunded as well.
            assert applied <= refunded, plan
        else:
            assert applied == refunded, plan
        assert owed_back <= paid, plan
        if refunded_total >= plan.total_amount:
            assert plan.status == Plan.Status.CANCELLED, plan
        elif plan.status != Plan.Status.CANCELLED:
            expected = Plan.Status.COMPLETED if left == 0 else Plan.Status.ACTIVE
            assert plan.status == expected, plan
    for payment in Payment.objects.prefetch_related("allocations"):
        assert sum((a.amount for a in payment.allocations.all()), start=ZERO) == payment.amount, payment
    for customer in Customer.objects.all():
        overdue = customer.installments.filter(status=Installment.Status.OVERDUE).exists()
        if not overdue:
            assert customer.status == Customer.Status.NORMAL, customer
        # The figures stored for the customers list (plans.balances) are the installments' own.
        owed = customer.installments.filter(status__in=OPEN_STATUSES).aggregate(t=Sum("amount_remaining"))["t"]
        late = customer.installments.filter(status=Installment.Status.OVERDUE).aggregate(t=Sum("amount_remaining"))
        assert customer.outstanding_amount == (owed or ZERO), customer
        assert customer.overdue_amount == (late["t"] or ZERO), customer
