"""What each customer owes, stored on the customer (`outstanding_amount`, `overdue_amount`) so that
the customers list can sort a million rows by it through an index.

Always recomputed from the installments, never moved by a delta, so a stored figure cannot drift
from them. The ledger refreshes the customer it moved money for, `create_plan` the customer of
the new plan, and the overdue checker the overdue part of the customers it finds late.
"""

from decimal import Decimal

from django.db.models import DecimalField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from bnpl_admin.plans.models import MONEY, OPEN_STATUSES, Installment

ZERO = Decimal("0.00")


def _owed(installments, condition: Q):
    total = (
        installments.filter(condition, customer=OuterRef("pk"))
        .order_by()
        .values("customer")
        .annotate(total=Sum("amount_remaining"))
        .values("total")
    )
    return Coalesce(Subquery(total), Value(ZERO), output_field=DecimalField(**MONEY))


def overdue_column(installments=Installment.objects, *, late_before=None) -> dict:
    """`overdue_amount` as an UPDATE expression: the OVERDUE installments' remaining amounts, and,
    with `late_before`, those of the UPCOMING ones due before it (the checker's, before it flips
    them). `installments` is a manager, so that a migration can pass its historical model's."""
    overdue = Q(status="OVERDUE")
    if late_before is not None:
        overdue |= Q(status="UPCOMING", due_date__lt=late_before)
    return {"overdue_amount": _owed(installments, overdue)}


def balance_columns(installments=Installment.objects) -> dict:
    """Both stored figures as UPDATE expressions (see `overdue_column`)."""
    return {
        "outstanding_amount": _owed(installments, Q(status__in=OPEN_STATUSES)),
        **overdue_column(installments),
    }


def refresh(customers) -> int:
    """Store both figures for `customers` (a queryset of customers), in one UPDATE."""
    return customers.update(**balance_columns())
