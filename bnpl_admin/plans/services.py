"""Writes to plans and installments: create_plan (rule 1), record_payment (rule 3), check_overdue (rule 2).

Lock order, to stay free of deadlocks: the customer row before its installments, everywhere
except in check_overdue, which changes installments and then customers in two set-based steps.
On PostgreSQL it holds the debt-status advisory lock exclusively (one checker at a time) and
record_payment holds it shared, so a payment and a checker run never interleave.
"""

from __future__ import annotations

import datetime
import json
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Exists, Min, OuterRef, Subquery
from django.utils import timezone

from bnpl_admin.audit import services as audit
from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers import services as customer_services
from bnpl_admin.customers.models import Customer
from bnpl_admin.money import parse_amount
from bnpl_admin.plans.errors import DebtUserError, InvalidPlan, PaymentError
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.plans.schedule import MAX_INSTALLMENTS, MIN_INSTALLMENTS, build_schedule

logger = logging.getLogger(__name__)


@transaction.atomic
def create_plan(
    *,
    customer_id: str,
    total_amount: Decimal,
    installment_count: int = 3,
    actor: Actor,
    merchant=None,
    start_date: datetime.date | None = None,
) -> Plan:
    """Create an ACTIVE plan with its installments; refuse customers in debt (rule 1). The plan
    comes back with `installments_in_order` (its installments by number, as created).

    The customer row stays locked until commit, so a concurrent switch to DEBT_USER either
    happens before (and the plan is refused) or after (and the plan existed first).
    """
    try:
        total = parse_amount(total_amount, field="total_amount")
    except ValueError as exc:
        raise InvalidPlan(str(exc)) from None
    if not isinstance(installment_count, int) or isinstance(installment_count, bool):
        raise InvalidPlan("installment_count must be an integer")
    if not MIN_INSTALLMENTS <= installment_count <= MAX_INSTALLMENTS:
        raise InvalidPlan(f"installment_count must be between {MIN_INSTALLMENTS} and {MAX_INSTALLMENTS}")

    if total * 100 < installment_count:
        raise InvalidPlan("total_amount must be at least 0.01 per installment")

    customer = customer_services.lock_customer(customer_id)
    if customer.status == Customer.Status.DEBT_USER:
        raise DebtUserError(customer_id)

    start = start_date or timezone.localdate()
    plan = Plan.objects.create(
        customer=customer,
        merchant=merchant,
        total_amount=total,
        installment_count=installment_count,
        start_date=start,
        created_by=actor.user,
    )
    # Kept on the plan as `Prefetch("installments", to_attr="installments_in_order")` would leave
    # them: whoever answers with the new plan need not read them back.
    plan.installments_in_order = Installment.objects.bulk_create(
        Installment(plan=plan, customer=customer, number=number, amount_due=amount, due_date=due)
        for number, amount, due in build_schedule(total, installment_count, start)
    )
    audit.record(
        actor=actor,
        action="plan.created",
        target_type="plan",
        target_id=plan.id,
        customer_ref=customer.customer_id,
        data={"total_amount": str(total), "installment_count": installment_count, "start_date": start.isoformat()},
    )
    return plan


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


@dataclass(frozen=True)
class PaymentResult:
    paid_installments: int
    customer_status: str
    completed_plan_ids: list


@transaction.atomic
def record_payment(*, installment_ids: list[int], actor: Actor, customer_id: str | None = None) -> PaymentResult:
    """Mark unpaid installments PAID, all or nothing (rule 3).

    Every id must be an UPCOMING or OVERDUE installment of one customer (of `customer_id` when
    given). Plans whose installments are then all PAID become COMPLETED; a DEBT_USER left with no
    OVERDUE installment returns to NORMAL.
    """
    ids = _installment_ids(installment_ids)
    owners = set(Installment.objects.filter(pk__in=ids).values_list("customer__customer_id", flat=True))
    if customer_id is None:
        if len(owners) > 1:
            raise PaymentError("All installments must belong to the same user")
        customer_id = owners.pop() if owners else None
    if customer_id is None:
        raise PaymentError(f"Not unpaid installments of this user: {', '.join(map(str, ids))}")

    customer_services.hold_debt_status_lock()
    customer = customer_services.lock_customer(customer_id)
    installments = list(Installment.objects.select_for_update().filter(pk__in=ids, customer=customer).order_by("pk"))
    by_id = {i.pk: i for i in installments}
    invalid = [pk for pk in ids if pk not in by_id or by_id[pk].status == Installment.Status.PAID]
    if invalid:
        raise PaymentError(f"Not unpaid installments of this user: {', '.join(map(str, invalid))}")

    now = timezone.now()
    Installment.objects.filter(pk__in=ids).update(status=Installment.Status.PAID, paid_at=now)
    audit.record_many(
        actor=actor,
        action="installment.paid",
        target_type="installment",
        events=[
            (
                installment.pk,
                customer.customer_id,
                {
                    "plan_id": str(installment.plan_id),
                    "number": installment.number,
                    "amount": str(installment.amount_due),
                    "was": installment.status,
                },
            )
            for installment in installments
        ],
    )

    plan_ids = {i.plan_id for i in installments}
    completed = list(
        Plan.objects.filter(pk__in=plan_ids, status=Plan.Status.ACTIVE)
        .exclude(installments__status__in=[Installment.Status.UPCOMING, Installment.Status.OVERDUE])
        .values_list("pk", flat=True)
    )
    if completed:
        Plan.objects.filter(pk__in=completed).update(status=Plan.Status.COMPLETED)
        audit.record_many(
            actor=actor,
            action="plan.completed",
            target_type="plan",
            events=[(plan_id, customer.customer_id, {}) for plan_id in completed],
        )

    oldest = customer.installments.filter(status=Installment.Status.OVERDUE).aggregate(oldest=Min("due_date"))
    if customer.overdue_since != oldest["oldest"]:
        customer.overdue_since = oldest["oldest"]
        customer.save(update_fields=["overdue_since", "updated_at"])
    if customer.status == Customer.Status.DEBT_USER and customer.overdue_since is None:
        customer_services.change_status(
            customer=customer,
            status=Customer.Status.NORMAL,
            reason="No overdue installment left after payment",
            actor=actor,
        )
    return PaymentResult(paid_installments=len(ids), customer_status=customer.status, completed_plan_ids=completed)


@dataclass(frozen=True)
class OverdueResult:
    as_of: datetime.date
    installments_marked_overdue: int
    customers_marked_debt: int


_DEBT_REASON = "Overdue installment"


_AUDIT_COLUMNS = "at, actor_kind, actor_user_id, actor_label, action, target_type, target_id, customer_ref, data"
# One customer.status_changed row per customer flipped; the parameters are now, actor kind, label, data.
_AUDIT_VALUES = "%s, %s, NULL, %s, 'customer.status_changed', 'customer', c.customer_id, c.customer_id"


def _audit_parameters(now: datetime.datetime, actor: Actor) -> list:
    data = json.dumps({"from": "NORMAL", "to": "DEBT_USER", "reason": _DEBT_REASON})
    return [connection.ops.adapt_datetimefield_value(now), actor.kind, actor.label, data]


def _flip_installments_and_their_customers(*, as_of: datetime.date, now: datetime.datetime, actor: Actor):
    """PostgreSQL, one statement: the installments falling due become OVERDUE, and their customers
    become DEBT_USER (each audited) with `overdue_since` moved back to the oldest of them.

    Driven by the rows it changes (RETURNING), so its cost follows the number of flips, not the
    number of customers. Returns (installments marked, customers flipped). The caller holds the
    debt-status lock exclusively: no payment or override changes a customer meanwhile, and a
    plan being created (customer row locked) is waited for, then the customer flipped after it.
    """
    customer_table = Customer._meta.db_table
    installment_table = Installment._meta.db_table
    audit_table = AuditEvent._meta.db_table
    now_value, *audit = _audit_parameters(now, actor)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH falling_due AS ("
            f"  UPDATE {installment_table} SET status = 'OVERDUE' WHERE status = 'UPCOMING' AND due_date < %s"
            f"  RETURNING customer_id, due_date"
            f"), oldest AS ("
            f"  SELECT customer_id, MIN(due_date) AS due_date FROM falling_due GROUP BY customer_id"
            # Two updates of disjoint rows (by status in the statement's snapshot): NORMAL customers
            # flip (and are audited); debt users only get an older overdue_since, when it is.
            f"), c AS ("
            f"  UPDATE {customer_table} AS c SET status = 'DEBT_USER', updated_at = %s,"
            f"  overdue_since = LEAST(c.overdue_since, o.due_date) FROM oldest o"
            f"  WHERE c.id = o.customer_id AND c.status = 'NORMAL' RETURNING c.customer_id"
            f"), dated AS ("
            f"  UPDATE {customer_table} AS c SET updated_at = %s, overdue_since = o.due_date FROM oldest o"
            f"  WHERE c.id = o.customer_id AND c.status = 'DEBT_USER'"
            f"  AND (c.overdue_since IS NULL OR c.overdue_since > o.due_date)"
            f"), audited AS ("
            f"  INSERT INTO {audit_table} ({_AUDIT_COLUMNS}) SELECT {_AUDIT_VALUES}, %s::jsonb FROM c RETURNING 1"
            f") SELECT (SELECT count(*) FROM falling_due), (SELECT count(*) FROM audited)",
            [as_of, now_value, now_value, now_value, *audit],
        )
        marked, flipped = cursor.fetchone()
    return marked, flipped


def _flip_customers_to_debt(*, now: datetime.datetime, actor: Actor, known_overdue_only: bool = False) -> int:
    """Customers with an OVERDUE installment and status NORMAL become DEBT_USER, each audited.

    Set-based: two statements whatever the number of rows. On PostgreSQL the update and the
    audit insert are one statement (a data-modifying CTE), so the audit names exactly the rows
    changed; SQLite serialises writers, so two statements are equivalent. `known_overdue_only`
    looks only at customers whose `overdue_since` is set (an index range: the customers put back
    to NORMAL by hand while still overdue) instead of probing every NORMAL customer.
    """
    customer_table = Customer._meta.db_table
    installment_table = Installment._meta.db_table
    audit_table = AuditEvent._meta.db_table
    oldest_overdue = (
        f"SELECT MIN(o.due_date) FROM {installment_table} o WHERE o.customer_id = c.id AND o.status = 'OVERDUE'"
    )
    debt_condition = (
        f"c.status = 'NORMAL' AND EXISTS (SELECT 1 FROM {installment_table} i "
        f"WHERE i.customer_id = c.id AND i.status = 'OVERDUE')"
    )
    if known_overdue_only:
        debt_condition += " AND c.overdue_since IS NOT NULL"
    now_value, *audit = _audit_parameters(now, actor)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH c AS (UPDATE {customer_table} AS c SET status = 'DEBT_USER', updated_at = %s, "
                f"overdue_since = ({oldest_overdue}) "
                f"WHERE {debt_condition} RETURNING c.customer_id) "
                f"INSERT INTO {audit_table} ({_AUDIT_COLUMNS}) SELECT {_AUDIT_VALUES}, %s::jsonb FROM c",
                [now_value, now_value, *audit],
            )
            return cursor.rowcount
        cursor.execute(
            f"INSERT INTO {audit_table} ({_AUDIT_COLUMNS}) SELECT {_AUDIT_VALUES}, %s FROM {customer_table} AS c "
            f"WHERE {debt_condition}",
            [now_value, *audit],
        )
        cursor.execute(
            f"UPDATE {customer_table} AS c SET status = 'DEBT_USER', updated_at = %s, "
            f"overdue_since = ({oldest_overdue}) WHERE {debt_condition}",
            [now_value],
        )
        return cursor.rowcount


def _date_debt_without_overdue_since() -> None:
    """Debt users made so by hand before anything was overdue get their date once it is."""
    overdue = Installment.objects.filter(customer=OuterRef("pk"), status=Installment.Status.OVERDUE)
    Customer.objects.filter(status=Customer.Status.DEBT_USER, overdue_since__isnull=True).filter(
        Exists(overdue)
    ).update(overdue_since=Subquery(overdue.order_by("due_date").values("due_date")[:1]))


@transaction.atomic
def check_overdue(*, as_of: datetime.date | None = None, actor: Actor | None = None) -> OverdueResult:
    """Rule 2: UPCOMING installments due before `as_of` become OVERDUE; their customers DEBT_USER.

    A constant number of queries whatever the number of rows; running it twice changes nothing
    the second time.
    """
    actor = actor or Actor.system("overdue-checker")
    as_of = as_of or timezone.localdate()
    now = timezone.now()
    if connection.vendor == "postgresql":
        customer_services.hold_debt_status_lock(exclusive=True)
        marked, flipped = _flip_installments_and_their_customers(as_of=as_of, now=now, actor=actor)
        flipped += _flip_customers_to_debt(now=now, actor=actor, known_overdue_only=True)
    else:
        marked = Installment.objects.filter(status=Installment.Status.UPCOMING, due_date__lt=as_of).update(
            status=Installment.Status.OVERDUE
        )
        flipped = _flip_customers_to_debt(now=now, actor=actor)
        _date_debt_without_overdue_since()  # PostgreSQL's statement dates them as it goes
    result = OverdueResult(as_of=as_of, installments_marked_overdue=marked, customers_marked_debt=flipped)
    if marked or flipped:
        audit.record(
            actor=actor,
            action="overdue.checked",
            target_type="overdue_check",
            target_id=as_of.isoformat(),
            data={"installments_marked_overdue": marked, "customers_marked_debt": flipped},
        )
    logger.info(
        "check_overdue as_of=%s installments_marked_overdue=%d customers_marked_debt=%d", as_of, marked, flipped
    )
    return result
