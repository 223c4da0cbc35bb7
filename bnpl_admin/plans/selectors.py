"""Read queries about plans and payments: a plan, or a customer's plans, each with its installments
in order; a customer's payments with their allocations; a plan's balance from rows already loaded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, QuerySet, Sum

from bnpl_admin.plans.ledger import ALLOCATIONS_IN_ORDER
from bnpl_admin.plans.models import Installment, Payment, Plan
from bnpl_admin.refunds.models import Refund

ZERO = Decimal("0.00")

# What the profile and the API show of a plan's installments: all of them, by number.
INSTALLMENTS_IN_ORDER = Prefetch(
    "installments", queryset=Installment.objects.order_by("number"), to_attr="installments_in_order"
)


def _with_installments(plans: QuerySet[Plan]) -> QuerySet[Plan]:
    return plans.select_related("merchant").prefetch_related(INSTALLMENTS_IN_ORDER)


def plans_of(customer) -> list[Plan]:
    """The customer's plans, newest first, each with its merchant and `installments_in_order`."""
    return list(_with_installments(customer.plans.order_by("-created_at", "id")))


def plan_with_installments(plan_id) -> Plan:
    """One plan with its customer, merchant and `installments_in_order`; Plan.DoesNotExist if none."""
    return _with_installments(Plan.objects.select_related("customer")).get(pk=plan_id)


def active_plans_of(customer) -> list[Plan]:
    """The customer's ACTIVE plans (those a payment can go to), oldest first, each annotated with
    `remaining`, the sum of its installments' remaining amounts."""
    return list(
        customer.plans.filter(status=Plan.Status.ACTIVE)
        .annotate(remaining=Sum("installments__amount_remaining"))
        .order_by("created_at", "id")
    )


def payments_of(customer) -> list[Payment]:
    """The customer's payments, newest first, each with `allocations_in_order` (and their
    installments): two queries, whatever the number of payments."""
    return list(
        Payment.objects.filter(customer=customer)
        .prefetch_related(ALLOCATIONS_IN_ORDER)
        .order_by("-received_at", "-reference")
    )


@dataclass(frozen=True)
class PlanBalance:
    """Where a plan's total stands: paid + refunded + remaining = total. `owed_to_customer` is what
    its approved refunds could not take off (money already paid, to be paid back)."""

    total: Decimal
    paid: Decimal
    refunded: Decimal
    remaining: Decimal
    owed_to_customer: Decimal

    @property
    def has_payments(self) -> bool:
        """Something is paid: a POSTED payment went to the plan (a reversed one no longer counts)."""
        return self.paid > 0


def plan_balance(plan: Plan, refunds: Iterable[Refund]) -> PlanBalance:
    """The balance of a plan loaded by `plans_of`, with the customer's refunds already loaded
    (`refunds_of`): no query."""
    installments = plan.installments_in_order
    return PlanBalance(
        total=plan.total_amount,
        paid=sum((i.amount_paid for i in installments), start=ZERO),
        refunded=sum((i.amount_refunded for i in installments), start=ZERO),
        remaining=sum((i.amount_remaining for i in installments), start=ZERO),
        owed_to_customer=sum(
            (
                r.amount_to_customer or ZERO
                for r in refunds
                if r.plan_id == plan.pk and r.status == Refund.Status.APPROVED
            ),
            start=ZERO,
        ),
    )
