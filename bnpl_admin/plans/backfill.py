"""Bring rows written without the ledger (before rules 6-9, or by bulk loaders) into it.

Used by the ledger's data migration (with the migration's historical models) and by the demo
seed and the benchmark data set, which insert installments and refunds in bulk:
- a PAID installment without an allocation was paid in full: it gets `amount_paid` and one
  POSTED payment (reference `migrated-<installment id>`, `seed-…` for demo data) allocated to it;
- an APPROVED refund not yet applied is applied as rule 8 says (last installment backwards), its
  plan CANCELLED or COMPLETED, and its customer back to NORMAL when nothing is overdue any more.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.db.models import F, Min, Sum
from django.utils import timezone

from bnpl_admin.plans.ledger import settle_installment, take_off_from_last

ZERO = Decimal("0.00")


def post_paid_installments(Installment, Payment, PaymentAllocation, *, reference_prefix: str = "migrated-") -> int:
    """Set-based: three statements whatever the number of rows; returns the payments created.
    Each payment's reference is `reference_prefix` and the installment's id."""
    installments = Installment._meta.db_table
    payments = Payment._meta.db_table
    allocations = PaymentAllocation._meta.db_table
    new_uuid = "gen_random_uuid()" if connection.vendor == "postgresql" else "lower(hex(randomblob(16)))"
    unallocated = f"i.status = 'PAID' AND NOT EXISTS (SELECT 1 FROM {allocations} a WHERE a.installment_id = i.id)"
    Installment.objects.filter(status="PAID", amount_paid=0, amount_refunded=0).update(amount_paid=F("amount_due"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {payments} (id, customer_id, amount, method, reference, status, received_at, "
            "reversal_reason) "
            f"SELECT {new_uuid}, i.customer_id, i.amount_paid, 'other', %s || i.id, 'POSTED', i.paid_at, '' "
            f"FROM {installments} i WHERE {unallocated}",
            [reference_prefix],
        )
        created = cursor.rowcount
        cursor.execute(
            f"INSERT INTO {allocations} (payment_id, installment_id, amount) "
            f"SELECT p.id, i.id, i.amount_paid FROM {installments} i "
            f"JOIN {payments} p ON p.reference = %s || i.id WHERE {unallocated}",
            [reference_prefix],
        )
    return created


def apply_approved_refunds(Refund, Plan, Installment, Customer, AuditEvent) -> int:
    """Apply every APPROVED refund whose split is not recorded yet; returns how many."""
    Refund.objects.filter(status="APPROVED", amount_applied__isnull=True, plan__isnull=True).update(
        amount_applied=ZERO, amount_to_customer=F("amount")
    )
    pending = Refund.objects.filter(status="APPROVED", amount_applied__isnull=True).order_by("processed_at", "pk")
    now = timezone.now()
    customers, applied = set(), 0
    for refund in pending.iterator(chunk_size=1000):
        installments = list(Installment.objects.filter(plan_id=refund.plan_id).order_by("number"))
        refund.amount_applied = take_off_from_last(refund.amount, installments)
        refund.amount_to_customer = refund.amount - refund.amount_applied
        for installment in installments:
            settle_installment(installment, now=now)
        Installment.objects.bulk_update(installments, ["amount_refunded", "status", "paid_at"])
        refund.save(update_fields=["amount_applied", "amount_to_customer"])
        plan = Plan.objects.get(pk=refund.plan_id)
        refunded = Refund.objects.filter(plan_id=plan.pk, status="APPROVED").aggregate(t=Sum("amount"))["t"]
        if refunded >= plan.total_amount:
            plan.status = "CANCELLED"
        elif all(i.amount_remaining == 0 for i in installments) and plan.status != "CANCELLED":
            plan.status = "COMPLETED"
        plan.save(update_fields=["status"])
        customers.add(refund.customer_id)
        applied += 1
    for customer in Customer.objects.filter(pk__in=customers):
        oldest = Installment.objects.filter(customer_id=customer.pk, status="OVERDUE").aggregate(o=Min("due_date"))["o"]
        customer.overdue_since = oldest
        recovered = customer.status == "DEBT_USER" and oldest is None
        if recovered:
            customer.status = "NORMAL"
        customer.save(update_fields=["overdue_since", "status"])
        if recovered:
            AuditEvent.objects.create(
                at=now,
                actor_kind="system",
                actor_label="ledger-backfill",
                action="customer.status_changed",
                target_type="customer",
                target_id=customer.customer_id,
                customer_ref=customer.customer_id,
                data={"from": "DEBT_USER", "to": "NORMAL", "reason": "No overdue installment left after refund"},
            )
    return applied
