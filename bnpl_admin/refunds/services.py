"""Writes to refunds: issue_refund (rule 4, idempotent), cancel_refund, and the state machine (rule 5)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from bnpl_admin.audit import services as audit
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers import selectors as customer_selectors
from bnpl_admin.customers.errors import CustomerNotFound
from bnpl_admin.customers.models import Customer
from bnpl_admin.money import parse_amount
from bnpl_admin.plans import ledger
from bnpl_admin.plans.models import Plan
from bnpl_admin.refunds.errors import (
    IllegalTransition,
    InvalidRefund,
    RefundConflict,
    RefundLimitExceeded,
    RefundNotFound,
)
from bnpl_admin.refunds.models import ALLOWED_TRANSITIONS, CANCELLED_BY_STAFF, TERMINAL_STATUSES, Refund
from bnpl_admin.text import storable

ONLY_PENDING_CAN_BE_CANCELLED = "Only PENDING refunds can be cancelled"

# Webhook vocabulary -> refund status (rule 5).
MERCHANT_STATUSES = {
    "approved": Refund.Status.APPROVED,
    "rejected": Refund.Status.REJECTED,
    "failed": Refund.Status.REJECTED,
    "processing": Refund.Status.PROCESSING,
}


@dataclass(frozen=True)
class IssuedRefund:
    refund: Refund
    created: bool


def _same_request(refund: Refund, *, customer_id: str, amount: Decimal) -> bool:
    return refund.customer.customer_id == customer_id and refund.amount == amount


def _existing(transaction_id: str, *, customer_id: str, amount: Decimal) -> IssuedRefund | None:
    refund = Refund.objects.select_related("customer", "merchant").filter(transaction_id=transaction_id).first()
    if refund is None:
        return None
    if not _same_request(refund, customer_id=customer_id, amount=amount):
        raise RefundConflict(transaction_id)
    return IssuedRefund(refund=refund, created=False)


def issue_refund(
    *,
    customer_id: str,
    transaction_id: str,
    amount,
    actor: Actor,
    reason: str = "",
    plan_id=None,
    merchant=None,
    merchant_reference: str = "",
) -> IssuedRefund:
    """Issue a PENDING refund, exactly once per transaction id (rule 4).

    The same transaction id with the same customer and amount returns the existing refund
    (`created=False`); with another customer or amount it raises RefundConflict. Concurrent
    identical calls create one refund: the unique index decides, the losers read the winner.
    With a plan, the amount may not exceed the plan total less its refunds not REJECTED; the plan
    row is locked so two refunds cannot both pass that check. The refund's merchant (the only one
    whose webhook may move it) is the plan's; `merchant` names it for a refund without a plan, and
    naming another than the plan's is refused.
    """
    transaction_id = (transaction_id or "").strip()
    if not transaction_id:
        raise InvalidRefund("transaction_id is required")
    if not storable(transaction_id):
        raise InvalidRefund("transaction_id contains characters that cannot be stored")
    customer_selectors.refuse_unstorable_id(customer_id)
    if len(transaction_id) > 64:
        raise InvalidRefund("transaction_id must be at most 64 characters")
    try:
        amount = parse_amount(amount)
    except ValueError as exc:
        raise InvalidRefund(str(exc)) from None
    reason = (reason or "").strip()
    if len(reason) > 500:
        raise InvalidRefund("reason must be at most 500 characters")
    if not storable(reason) or not storable(merchant_reference or ""):
        raise InvalidRefund("reason contains characters that cannot be stored")

    existing = _existing(transaction_id, customer_id=customer_id, amount=amount)
    if existing:
        return existing
    try:
        with transaction.atomic():
            refund = _create_refund(
                customer_id=customer_id,
                transaction_id=transaction_id,
                amount=amount,
                reason=reason,
                plan_id=plan_id,
                merchant=merchant,
                merchant_reference=merchant_reference or "",
                actor=actor,
            )
    except IntegrityError:
        existing = _existing(transaction_id, customer_id=customer_id, amount=amount)
        if existing is None:
            raise
        return existing
    return IssuedRefund(refund=refund, created=True)


def _create_refund(
    *, customer_id, transaction_id, amount, reason, plan_id, merchant, merchant_reference, actor
) -> Refund:
    try:
        customer = Customer.objects.get(customer_id=customer_id)
    except Customer.DoesNotExist:
        raise CustomerNotFound(customer_id) from None
    plan = None
    if plan_id:
        try:
            plan = (
                Plan.objects.select_for_update(of=("self",))
                .select_related("merchant")
                .get(pk=uuid.UUID(str(plan_id)), customer=customer)
            )
        except (ValueError, Plan.DoesNotExist):
            raise InvalidRefund(f"Plan {plan_id} not found for user {customer_id}") from None
        if plan.status == Plan.Status.CANCELLED:
            raise InvalidRefund(f"Plan {plan.pk} is cancelled")
        already = plan.refunds.exclude(status=Refund.Status.REJECTED).aggregate(total=Sum("amount"))["total"] or 0
        refundable = plan.total_amount - already
        if amount > refundable:
            raise RefundLimitExceeded(
                f"Refund amount {amount} exceeds what plan {plan.pk} still allows ({refundable:.2f})"
            )
        if merchant is not None and merchant.pk != plan.merchant_id:
            owner = plan.merchant.code if plan.merchant else "(none)"
            raise InvalidRefund(f"Plan {plan.pk} is merchant {owner}'s; its refund cannot name {merchant.code}")
        merchant = plan.merchant
    refund = Refund.objects.create(
        customer=customer,
        plan=plan,
        merchant=merchant,
        transaction_id=transaction_id,
        amount=amount,
        reason=reason,
        merchant_reference=merchant_reference,
        created_by=actor.user,
    )
    audit.record(
        actor=actor,
        action="refund.issued",
        target_type="refund",
        target_id=refund.pk,
        customer_ref=customer_id,
        data={
            "transaction_id": transaction_id,
            "amount": str(amount),
            "plan_id": str(plan.pk) if plan else None,
            "merchant": merchant.code if merchant else None,
        },
    )
    return refund


def lock_refund(refund_ref) -> Refund:
    """The refund by UUID or transaction id, locked (its row only) until the transaction ends."""
    refunds = Refund.objects.select_for_update(of=("self",)).select_related("customer", "plan", "merchant")
    try:
        return refunds.get(pk=uuid.UUID(str(refund_ref)))
    except (ValueError, Refund.DoesNotExist):
        pass
    try:
        return refunds.get(transaction_id=str(refund_ref))
    except Refund.DoesNotExist:
        raise RefundNotFound(f"Refund {refund_ref} not found") from None


def transition(*, refund: Refund, to: str, actor: Actor, detail: str = "", merchant_reference: str = "") -> Refund:
    """Move a locked refund along the state machine (rule 5), or raise IllegalTransition."""
    if to not in ALLOWED_TRANSITIONS[refund.status]:
        raise IllegalTransition(f"Refund is {refund.status}; it cannot become {to}")
    before = refund.status
    refund.status = to
    if detail:
        refund.status_detail = detail
    if merchant_reference:
        refund.merchant_reference = merchant_reference
    if to in TERMINAL_STATUSES:
        refund.processed_at = timezone.now()
    if to == Refund.Status.APPROVED:
        # Rule 8, in this transaction: a refund becomes APPROVED once, so it is applied once.
        ledger.apply_approved_refund(refund, actor=actor)
    refund.save(
        update_fields=[
            "status",
            "status_detail",
            "merchant_reference",
            "processed_at",
            "amount_applied",
            "amount_to_customer",
            "updated_at",
        ]
    )
    audit.record(
        actor=actor,
        action="refund.status_changed",
        target_type="refund",
        target_id=refund.pk,
        customer_ref=refund.customer.customer_id,
        data={
            "from": before,
            "to": to,
            "detail": detail,
            "transaction_id": refund.transaction_id,
            **(
                {"amount_applied": str(refund.amount_applied), "amount_to_customer": str(refund.amount_to_customer)}
                if to == Refund.Status.APPROVED
                else {}
            ),
        },
    )
    return refund


@transaction.atomic
def cancel_refund(*, refund_id, actor: Actor, reason: str = "") -> Refund:
    """A PENDING refund becomes REJECTED, cancelled by staff ("Cancelled by staff" is its outcome
    and, in the contract's wording, the API's reason); the reason it was issued with is kept, the
    staff member's own reason goes to the status detail."""
    refund = lock_refund(refund_id)
    if refund.status != Refund.Status.PENDING:
        raise IllegalTransition(ONLY_PENDING_CAN_BE_CANCELLED)
    detail = f"{CANCELLED_BY_STAFF}: {reason.strip()}" if reason.strip() else CANCELLED_BY_STAFF
    original_reason = refund.reason
    refund.cancelled_by_staff = True
    refund.save(update_fields=["cancelled_by_staff", "updated_at"])
    audit.record(
        actor=actor,
        action="refund.cancelled",
        target_type="refund",
        target_id=refund.pk,
        customer_ref=refund.customer.customer_id,
        data={
            "original_reason": original_reason,
            "staff_reason": reason.strip(),
            "transaction_id": refund.transaction_id,
        },
    )
    return transition(refund=refund, to=Refund.Status.REJECTED, actor=actor, detail=detail)


@dataclass(frozen=True)
class MerchantUpdate:
    applied: bool
    refund: Refund
    reason: str = ""


@transaction.atomic
def apply_merchant_status(
    *, refund_ref, status: str, actor: Actor, merchant=None, merchant_reference: str = ""
) -> MerchantUpdate:
    """Apply a merchant's reported status to a refund (rule 5).

    A terminal refund never changes, and a move the state machine forbids (a late or out-of-order
    event) is not applied: `applied=False` with the reason. Raises RefundNotFound for an unknown
    refund, or, when `merchant` is given, for a refund that is not that merchant's (another's, or
    no merchant's) without saying that it exists, and ValueError for a status outside the webhook vocabulary.
    """
    if status not in MERCHANT_STATUSES:
        raise ValueError(f"Invalid status: {status}")
    refund = lock_refund(refund_ref)
    if merchant is not None and refund.merchant_id != merchant.pk:
        raise RefundNotFound(f"Refund {refund_ref} not found")
    target = MERCHANT_STATUSES[status]
    if refund.status == target:
        return MerchantUpdate(applied=False, refund=refund, reason=f"Refund is already {target}")
    if refund.status in TERMINAL_STATUSES:
        return MerchantUpdate(
            applied=False, refund=refund, reason=f"Refund is final ({refund.status}); {status} ignored"
        )
    if target not in ALLOWED_TRANSITIONS[refund.status]:
        return MerchantUpdate(
            applied=False, refund=refund, reason=f"Refund is {refund.status}; {status} arrived out of order"
        )
    transition(
        refund=refund,
        to=target,
        actor=actor,
        detail=f"Merchant reported {status}",
        merchant_reference=merchant_reference,
    )
    return MerchantUpdate(applied=True, refund=refund)
