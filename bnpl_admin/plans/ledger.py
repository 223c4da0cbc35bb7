"""The money ledger (rules 6-9): every move of a plan's balance, each locked, audited and idempotent.

- `record_payment`: an amount allocated in the fixed order of rule 6, once per reference;
  `pay_installments`: one payment of exactly the remaining amounts of the given installments.
- `reverse_payment` (rule 7): a mistaken payment stops counting; what it paid is owed again.
- `apply_approved_refund` (rule 8): called by the refund state machine in the transaction that
  makes a refund APPROVED; takes the refund off the remaining amounts from the last installment.
- `cancel_plan` (rule 9): a plan nobody paid anything on is written off.

Lock order, as everywhere: the debt-status lock (shared), the customer row, its plans, then their
installments. Rule 3 (recovery) runs after every move, in `_settle_customer`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Case, Min, Prefetch, Sum, Value, When
from django.utils import timezone

from bnpl_admin.audit import services as audit
from bnpl_admin.audit.services import Actor
from bnpl_admin.collection import services as collection_services
from bnpl_admin.customers import selectors as customer_selectors
from bnpl_admin.customers import services as customer_services
from bnpl_admin.customers.models import Customer
from bnpl_admin.money import parse_amount
from bnpl_admin.plans import balances
from bnpl_admin.plans.errors import (
    NothingOutstanding,
    PaymentConflict,
    PaymentError,
    PaymentExceedsBalance,
    PaymentNotFound,
    PlanNotCancellable,
    PlanNotFound,
)
from bnpl_admin.plans.models import OPEN_STATUSES, Installment, Payment, PaymentAllocation, Plan
from bnpl_admin.plans.schedule import overdue_cutoff
from bnpl_admin.refunds.models import Refund
from bnpl_admin.text import storable

ZERO = Decimal("0.00")
MAX_REFERENCE = 64
MAX_REASON = 500
ALREADY_REVERSED = "Payment is already reversed"
ONLY_UNPAID_PLANS = "Only plans without payments can be cancelled; issue a refund instead"

# The columns a balance move writes on an installment (amount_remaining follows by itself).
_MOVED = ["amount_paid", "amount_refunded", "status", "paid_at"]


def _write(installments) -> None:
    """Save the moved columns of installments already locked: one plain UPDATE each (a move
    touches a few; `bulk_update`'s CASE per column cost more to build than the rows it saved),
    then what their customer owes (plans.balances)."""
    customers = set()
    for installment in installments:
        Installment.objects.filter(pk=installment.pk).update(**{f: getattr(installment, f) for f in _MOVED})
        customers.add(installment.customer_id)
    balances.refresh(Customer.objects.filter(pk__in=customers))


# The arithmetic, on installments already loaded and locked.


def remaining(installment: Installment) -> Decimal:
    return installment.amount_due - installment.amount_paid - installment.amount_refunded


def allocate(amount: Decimal, installments: Iterable[Installment]) -> list[tuple[Installment, Decimal]]:
    """Split `amount` over `installments` in the order given, each up to what it has remaining."""
    left, parts = amount, []
    for installment in installments:
        if left <= 0:
            break
        part = min(left, remaining(installment))
        if part > 0:
            parts.append((installment, part))
            left -= part
    return parts


def settle_installment(installment: Installment, *, now, reopen_overdue_before=None) -> None:
    """The installment's status (and paid_at) from its amounts, and keep its remaining amount in step.

    Nothing remaining: PAID when something was paid, CANCELLED otherwise. An installment that is
    owed again (a reversal) is OVERDUE at once when it fell due before `reopen_overdue_before`;
    an open one keeps its status (rule 2's checker moves UPCOMING to OVERDUE).
    """
    installment.amount_remaining = remaining(installment)
    if installment.amount_remaining == 0:
        if installment.amount_paid > 0:
            if installment.status != Installment.Status.PAID:
                installment.paid_at = now
            installment.status = Installment.Status.PAID
        else:
            installment.status, installment.paid_at = Installment.Status.CANCELLED, None
        return
    installment.paid_at = None
    late = reopen_overdue_before is not None and installment.due_date < reopen_overdue_before
    if late:
        installment.status = Installment.Status.OVERDUE
    elif installment.status not in OPEN_STATUSES:
        installment.status = Installment.Status.UPCOMING


def take_off_from_last(amount: Decimal, installments: list[Installment]) -> Decimal:
    """Rule 8's order: take `amount` off the remaining amounts from the last installment backwards;
    returns the part that could be taken off."""
    left = amount
    for installment in sorted(installments, key=lambda i: i.number, reverse=True):
        part = min(left, remaining(installment))
        if part > 0:
            installment.amount_refunded += part
            left -= part
    return amount - left


# Validation of what people type.


def _amount(value) -> Decimal:
    try:
        return parse_amount(value)
    except ValueError as exc:
        raise PaymentError(str(exc)) from None


def _text(value, *, field: str, limit: int, required: bool) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        raise PaymentError(f"{field} must be text")
    if required and not text:
        raise PaymentError(f"{field} is required")
    if len(text) > limit:
        raise PaymentError(f"{field} must be at most {limit} characters")
    if not storable(text):
        raise PaymentError(f"{field} contains characters that cannot be stored")
    return text


def _method(value) -> str:
    method = value or Payment.Method.OTHER
    if method not in Payment.Method.values:
        raise PaymentError(f"method must be one of: {', '.join(Payment.Method.values)}")
    return method


def _plan_uuid(plan_id) -> uuid.UUID:
    try:
        return uuid.UUID(str(plan_id))
    except ValueError:
        raise PaymentError(f"Plan {plan_id} not found") from None


# Payments (rule 6).


@dataclass(frozen=True)
class PostedPayment:
    payment: Payment
    created: bool

    @property
    def customer_status(self) -> str:
        return self.payment.customer.status

    @property
    def paid_installments(self) -> int:
        return sum(1 for a in self.payment.allocations_in_order if a.installment.status == Installment.Status.PAID)


ALLOCATIONS_IN_ORDER = Prefetch(
    "allocations",
    queryset=PaymentAllocation.objects.select_related("installment").order_by("id"),
    to_attr="allocations_in_order",
)


def payment_with_allocations(payment_id) -> Payment:
    """One payment with its customer and `allocations_in_order`; PaymentNotFound if none."""
    try:
        return (
            Payment.objects.select_related("customer")
            .prefetch_related(ALLOCATIONS_IN_ORDER)
            .get(pk=uuid.UUID(str(payment_id)))
        )
    except (ValueError, Payment.DoesNotExist):
        raise PaymentNotFound(f"Payment {payment_id} not found") from None


def _replay(reference: str, matches) -> PostedPayment | None:
    """The payment already recorded under `reference`, when `matches(payment)` says it is this
    request again; PaymentConflict when it is another; None when there is none."""
    payment = Payment.objects.filter(reference=reference).values_list("pk", flat=True).first()
    if payment is None:
        return None
    payment = payment_with_allocations(payment)
    if not matches(payment):
        raise PaymentConflict(reference)
    return PostedPayment(payment=payment, created=False)


def _record_once(*, customer_id: str, reference: str, matches, parts_of, method: str, actor: Actor) -> PostedPayment:
    """Post the payment `parts_of(locked customer)` describes, once per reference: a replay is
    answered with the first payment, found before the lock or, for one committed meanwhile (a
    concurrent request), through the unique index."""
    existing = _replay(reference, matches)
    if existing:
        return existing
    try:
        with transaction.atomic():
            customer_services.hold_debt_status_lock()
            customer = customer_services.lock_customer(customer_id)
            parts = parts_of(customer)
            amount = sum((part for _, part in parts), start=ZERO)
            payment = _post(customer, parts, amount, reference, method, actor)
    except IntegrityError:
        existing = _replay(reference, matches)
        if existing is None:
            raise
        return existing
    return PostedPayment(payment=payment, created=True)


def _open_installments(customer: Customer, plan_id=None):
    """The customer's installments with something remaining on ACTIVE plans, locked, in rule 6's
    order: OVERDUE first, then by due date; ties by the plan's age, then the number."""
    installments = Installment.objects.select_for_update(of=("self",)).filter(
        customer=customer, status__in=OPEN_STATUSES, plan__status=Plan.Status.ACTIVE
    )
    if plan_id is not None:
        installments = installments.filter(plan_id=plan_id)
    late_first = Case(When(status=Installment.Status.OVERDUE, then=Value(0)), default=Value(1))
    return list(installments.order_by(late_first, "due_date", "plan__created_at", "plan_id", "number"))


def _check_plan(customer: Customer, plan_id) -> uuid.UUID:
    plan = Plan.objects.filter(pk=_plan_uuid(plan_id), customer=customer).only("status").first()
    if plan is None:
        raise PaymentError(f"Plan {plan_id} not found for user {customer.customer_id}")
    if plan.status == Plan.Status.CANCELLED:
        raise PaymentError(f"Plan {plan.pk} is cancelled")
    return plan.pk


def allocation_preview(*, customer: Customer, amount, plan_id=None) -> list[tuple[Installment, Decimal]]:
    """Where `amount` would go if paid now (the page's preview): the same checks and order as
    `record_payment`, without writing or keeping a lock."""
    amount = _amount(amount)
    with transaction.atomic():
        return _allocation(customer, amount, plan_id)


def _allocation(customer: Customer, amount: Decimal, plan_id) -> list[tuple[Installment, Decimal]]:
    only_plan = _check_plan(customer, plan_id) if plan_id else None
    installments = _open_installments(customer, only_plan)
    outstanding = sum((remaining(i) for i in installments), start=ZERO)
    if outstanding == 0:
        raise NothingOutstanding()
    if amount > outstanding:
        raise PaymentExceedsBalance(outstanding)
    return allocate(amount, installments)


def record_payment(
    *, customer_id: str, amount, reference: str, actor: Actor, method: str | None = None, plan_id=None
) -> PostedPayment:
    """Record a payment of `amount` and allocate it (rule 6), exactly once per reference.

    The same reference with the same customer and amount returns the first payment
    (`created=False`); with another customer or amount it raises PaymentConflict. Refuses more
    than is outstanding (PaymentExceedsBalance) and a customer owing nothing (NothingOutstanding).
    """
    customer_selectors.refuse_unstorable_id(customer_id)
    amount = _amount(amount)
    reference = _text(reference, field="reference", limit=MAX_REFERENCE, required=True)
    method = _method(method)

    def matches(payment: Payment) -> bool:
        return payment.customer.customer_id == customer_id and payment.amount == amount

    return _record_once(
        customer_id=customer_id,
        reference=reference,
        matches=matches,
        parts_of=lambda customer: _allocation(customer, amount, plan_id),
        method=method,
        actor=actor,
    )


def _installment_ids(values) -> list[int]:
    """Whole-number ids only: a fraction, a bool or a bare string is refused, never truncated."""
    if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
        raise PaymentError("installment_ids must be a list of integers")
    ids = set()
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool):
            ids.add(value)
        elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            ids.add(int(value))
        else:
            raise PaymentError("installment_ids must be a list of integers")
    if not ids:
        raise PaymentError("installment_ids must not be empty")
    return sorted(ids)


def pay_installments(
    *,
    installment_ids,
    actor: Actor,
    customer_id: str | None = None,
    reference: str | None = None,
    method: str | None = None,
) -> PostedPayment:
    """One payment of the remaining amounts of exactly these installments, all or nothing (rule 6).

    Every id must be an open (UPCOMING or OVERDUE) installment of an ACTIVE plan of one customer
    (of `customer_id` when given). Without a reference, the payment gets a generated one; with
    one, a replay is a request for the same customer and installments.
    """
    ids = _installment_ids(installment_ids)
    method = _method(method)
    reference = _text(reference, field="reference", limit=MAX_REFERENCE, required=False) or f"pay-{uuid.uuid4()}"
    owners = set(Installment.objects.filter(pk__in=ids).values_list("customer__customer_id", flat=True))
    if customer_id is None:
        if len(owners) > 1:
            raise PaymentError("All installments must belong to the same user")
        customer_id = owners.pop() if owners else None
    if customer_id is None:
        raise PaymentError(f"Not unpaid installments of this user: {', '.join(map(str, ids))}")
    customer_selectors.refuse_unstorable_id(customer_id)

    def matches(payment: Payment) -> bool:
        paid = sorted(a.installment_id for a in payment.allocations_in_order)
        return payment.customer.customer_id == customer_id and paid == ids

    def parts_of(customer: Customer) -> list[tuple[Installment, Decimal]]:
        by_id = {i.pk: i for i in _open_installments(customer) if i.pk in ids}
        invalid = [pk for pk in ids if pk not in by_id]
        if invalid:
            raise PaymentError(f"Not unpaid installments of this user: {', '.join(map(str, invalid))}")
        return [(by_id[pk], remaining(by_id[pk])) for pk in ids]

    return _record_once(
        customer_id=customer_id, reference=reference, matches=matches, parts_of=parts_of, method=method, actor=actor
    )


def _post(customer, parts, amount, reference, method, actor) -> Payment:
    now = timezone.now()
    payment = Payment.objects.create(
        customer=customer,
        amount=amount,
        method=method,
        reference=reference,
        received_at=now,
        created_by=actor.user,
    )
    payment.allocations_in_order = PaymentAllocation.objects.bulk_create(
        PaymentAllocation(payment=payment, installment=installment, amount=part) for installment, part in parts
    )
    for installment, part in parts:
        installment.amount_paid += part
        settle_installment(installment, now=now)
    _write(i for i, _ in parts)
    audit.record(
        actor=actor,
        action="payment.recorded",
        target_type="payment",
        target_id=payment.pk,
        customer_ref=customer.customer_id,
        data={
            "amount": str(amount),
            "method": method,
            "reference": reference,
            "allocations": [
                {"installment_id": i.pk, "plan_id": str(i.plan_id), "number": i.number, "amount": str(part)}
                for i, part in parts
            ],
        },
    )
    _settle_plans({i.plan_id for i, _ in parts}, customer=customer, actor=actor)
    _settle_customer(customer, actor=actor, reason="No overdue installment left after payment")
    return payment


# Reversal (rule 7).


@transaction.atomic
def reverse_payment(*, payment_id, reason: str, actor: Actor) -> Payment:
    """A POSTED payment becomes REVERSED: what it paid is owed again, OVERDUE at once when past due,
    and the customer DEBT_USER at once when an installment is overdue."""
    reason = _text(reason, field="reason", limit=MAX_REASON, required=True)
    unlocked = payment_with_allocations(payment_id)
    customer_services.hold_debt_status_lock()
    customer = customer_services.lock_customer(unlocked.customer.customer_id)
    payment = Payment.objects.select_for_update().get(pk=unlocked.pk)
    if payment.status == Payment.Status.REVERSED:
        raise PaymentError(ALREADY_REVERSED)
    allocations = list(payment.allocations.order_by("id"))
    plan_ids = set(Installment.objects.filter(allocations__payment=payment).values_list("plan_id", flat=True))
    list(Plan.objects.select_for_update().filter(pk__in=plan_ids).order_by("pk").values_list("pk", flat=True))
    installments = {
        i.pk: i for i in Installment.objects.select_for_update().filter(plan_id__in=plan_ids).order_by("pk")
    }
    now, cutoff = timezone.now(), overdue_cutoff(timezone.localdate())
    for allocation in allocations:
        installments[allocation.installment_id].amount_paid -= allocation.amount
    _absorb_refunds_owed(plan_ids, installments.values())
    for installment in installments.values():
        settle_installment(installment, now=now, reopen_overdue_before=cutoff)
    _write(installments.values())

    payment.status, payment.reversed_at, payment.reversed_by = Payment.Status.REVERSED, now, actor.user
    payment.reversal_reason = reason
    payment.save(update_fields=["status", "reversed_at", "reversed_by", "reversal_reason"])
    audit.record(
        actor=actor,
        action="payment.reversed",
        target_type="payment",
        target_id=payment.pk,
        customer_ref=customer.customer_id,
        data={"amount": str(payment.amount), "reference": payment.reference, "reason": reason},
    )
    _settle_plans(plan_ids, customer=customer, actor=actor)
    _settle_customer(customer, actor=actor, reason=f"Payment reversed: {reason}", may_become_debt=True)
    return payment_with_allocations(payment.pk)


def _absorb_refunds_owed(plan_ids, installments) -> None:
    """After a reversal, money a refund was to pay back to the customer first settles what the
    reversal made owed again: the provider does not pay back a payment it never kept."""
    owed_refunds = list(
        Refund.objects.select_for_update()
        .filter(plan_id__in=plan_ids, status=Refund.Status.APPROVED, amount_to_customer__gt=0)
        .order_by("processed_at", "pk")
    )
    by_plan: dict = {}
    for installment in installments:
        by_plan.setdefault(installment.plan_id, []).append(installment)
    for refund in owed_refunds:
        absorbed = take_off_from_last(refund.amount_to_customer, by_plan[refund.plan_id])
        if absorbed:
            refund.amount_applied += absorbed
            refund.amount_to_customer -= absorbed
            refund.save(update_fields=["amount_applied", "amount_to_customer", "updated_at"])


# Refunds (rule 8).


def apply_approved_refund(refund, *, actor: Actor) -> None:
    """Rule 8, inside the transaction that makes `refund` APPROVED (the refunds' state machine
    calls it exactly there, and a refund becomes APPROVED once): take it off the plan's remaining
    amounts from the last installment backwards, and record what is owed back to the customer."""
    if refund.plan_id is None:
        refund.amount_applied, refund.amount_to_customer = ZERO, refund.amount
        return
    customer_services.hold_debt_status_lock()
    customer = Customer.objects.select_for_update().get(pk=refund.customer_id)
    Plan.objects.select_for_update().filter(pk=refund.plan_id).values_list("pk", flat=True).first()
    installments = list(Installment.objects.select_for_update().filter(plan_id=refund.plan_id).order_by("number"))
    applied = take_off_from_last(refund.amount, installments)
    now = timezone.now()
    for installment in installments:
        settle_installment(installment, now=now)
    _write(installments)
    refund.amount_applied, refund.amount_to_customer = applied, refund.amount - applied
    _settle_plans({refund.plan_id}, customer=customer, actor=actor, approving=refund)
    _settle_customer(customer, actor=actor, reason="No overdue installment left after refund")


# Cancellation (rule 9).


@transaction.atomic
def cancel_plan(*, plan_id, reason: str, actor: Actor) -> Plan:
    """A plan nobody has paid on (no POSTED payment) and without a refund in progress is written
    off: its open installments and the plan become CANCELLED."""
    reason = _text(reason, field="reason", limit=MAX_REASON, required=True)
    try:
        owner = Plan.objects.select_related("customer").only("customer__customer_id").get(pk=_plan_uuid(plan_id))
    except Plan.DoesNotExist:
        raise PlanNotFound(f"Plan {plan_id} not found") from None
    customer_services.hold_debt_status_lock()
    customer = customer_services.lock_customer(owner.customer.customer_id)
    plan = Plan.objects.select_for_update().get(pk=owner.pk)
    if plan.status == Plan.Status.CANCELLED:
        raise PlanNotCancellable("Plan is already cancelled")
    if Payment.objects.filter(allocations__installment__plan=plan, status=Payment.Status.POSTED).exists():
        raise PlanNotCancellable(ONLY_UNPAID_PLANS)
    if plan.refunds.filter(status__in=[Refund.Status.PENDING, Refund.Status.PROCESSING]).exists():
        raise PlanNotCancellable("Plan has a refund in progress; cancel it or wait for the merchant first")
    installments = list(Installment.objects.select_for_update().filter(plan=plan).order_by("number"))
    written_off = ZERO
    now = timezone.now()
    for installment in installments:
        written_off += remaining(installment)
        installment.amount_refunded += remaining(installment)
        settle_installment(installment, now=now)
    _write(installments)
    plan.status = Plan.Status.CANCELLED
    plan.save(update_fields=["status"])
    audit.record(
        actor=actor,
        action="plan.cancelled",
        target_type="plan",
        target_id=plan.pk,
        customer_ref=customer.customer_id,
        data={"reason": reason, "written_off": str(written_off)},
    )
    _settle_customer(customer, actor=actor, reason="No overdue installment left after plan cancellation")
    plan.customer = customer
    return plan


# Plan and customer status after a move (rules 3, 7, 8).


def _settle_plans(plan_ids, *, customer, actor: Actor, approving=None) -> None:
    """ACTIVE while something remains; COMPLETED when nothing does; CANCELLED (for good) when the
    approved refunds reach the total, which only `approving` (a refund becoming APPROVED in this
    transaction) can bring about: payments and reversals never cancel a plan."""
    plans = (
        Plan.objects.filter(pk__in=plan_ids)
        .exclude(status=Plan.Status.CANCELLED)
        .annotate(left=Sum("installments__amount_remaining"))
    )
    refunded = ZERO
    if approving is not None:
        earlier = Refund.objects.filter(plan_id=approving.plan_id, status=Refund.Status.APPROVED)
        refunded = (earlier.aggregate(total=Sum("amount"))["total"] or ZERO) + approving.amount
    for plan in plans:
        if approving is not None and plan.pk == approving.plan_id and refunded >= plan.total_amount:
            status = Plan.Status.CANCELLED
        elif (plan.left or ZERO) == 0:
            status = Plan.Status.COMPLETED
        else:
            status = Plan.Status.ACTIVE
        if status != plan.status:
            before, plan.status = plan.status, status
            plan.save(update_fields=["status"])
            audit.record(
                actor=actor,
                action=f"plan.{status.lower()}",
                target_type="plan",
                target_id=plan.pk,
                customer_ref=customer.customer_id,
                data={"from": before, "to": status},
            )


def _settle_customer(customer: Customer, *, actor: Actor, reason: str, may_become_debt: bool = False) -> None:
    """Rule 3: a DEBT_USER with no OVERDUE installment left returns to NORMAL, and a hold (rule 11)
    ends with the debt. A reversal (`may_become_debt`) also makes a customer with an overdue
    installment DEBT_USER at once, unless a hold says to wait."""
    settled = customer.status == Customer.Status.NORMAL and customer.overdue_since is None
    if settled and customer.hold_until is None and not may_become_debt:
        # NORMAL with nothing overdue (the checker and the ledger keep overdue_since): a payment,
        # a refund or a cancellation makes nothing overdue, so there is nothing to settle.
        return
    oldest = customer.installments.filter(status=Installment.Status.OVERDUE).aggregate(oldest=Min("due_date"))
    if customer.overdue_since != oldest["oldest"]:
        customer.overdue_since = oldest["oldest"]
        customer.save(update_fields=["overdue_since", "updated_at"])
        collection_services.sync_queue_overdue_since(customers=[customer.pk])
    if customer.overdue_since is None:
        if customer.status == Customer.Status.DEBT_USER:
            customer_services.change_status(
                customer=customer, status=Customer.Status.NORMAL, reason=reason, actor=actor
            )
        if customer.hold_until is not None:
            customer_services.end_hold(customer, reason=reason, actor=actor)
    elif may_become_debt and customer.status == Customer.Status.NORMAL and not customer.on_hold(timezone.localdate()):
        if customer.hold_until is not None:
            customer_services.end_hold(customer, reason=reason, actor=actor)
        customer_services.change_status(customer=customer, status=Customer.Status.DEBT_USER, reason=reason, actor=actor)
