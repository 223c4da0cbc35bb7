"""Writes to plans and installments: create_plan (rule 1) and check_overdue (rule 2); the money
ledger (payments, reversals, refunds, cancellation) is in `ledger`.

Lock order, to stay free of deadlocks: the customer row before its installments, everywhere.
On PostgreSQL check_overdue holds the debt-status advisory lock exclusively (one checker at a
time) and the ledger's moves (payments, reversals, refunds) hold it shared, so a payment and a
checker run never interleave.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Case, F, Min, OuterRef, Q, Subquery, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone

from bnpl_admin.audit import services as audit
from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.collection import services as collection_services
from bnpl_admin.customers import services as customer_services
from bnpl_admin.customers.models import Customer
from bnpl_admin.money import parse_amount
from bnpl_admin.plans import balances
from bnpl_admin.plans.errors import DebtUserError, InvalidPlan
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.plans.schedule import MAX_INSTALLMENTS, MIN_INSTALLMENTS, build_schedule, overdue_cutoff

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
    balances.refresh(Customer.objects.filter(pk=customer.pk))
    audit.record(
        actor=actor,
        action="plan.created",
        target_type="plan",
        target_id=plan.id,
        customer_ref=customer.customer_id,
        data={
            "total_amount": str(total),
            "installment_count": installment_count,
            "start_date": start.isoformat(),
            **({"merchant": merchant.code} if merchant else {}),
        },
    )
    return plan


@dataclass(frozen=True)
class OverdueResult:
    as_of: datetime.date
    installments_marked_overdue: int
    customers_marked_debt: int
    cases_opened: int = 0
    promises_kept: int = 0
    promises_broken: int = 0


_DEBT_REASON = "Overdue installment"

_CUSTOMERS = Customer._meta.db_table
_INSTALLMENTS = Installment._meta.db_table
# The customers with an installment late as of the parameter: those with an UPCOMING one falling
# due (the partial index on due dates), and NORMAL ones already overdue (put back to NORMAL by
# hand), found through the index on status and overdue_since. SQL that SQLite and PostgreSQL share.
_LATE_CUSTOMERS = (
    f"SELECT customer_id FROM {_INSTALLMENTS} WHERE status = 'UPCOMING' AND due_date < %s "
    f"UNION SELECT k.id FROM {_CUSTOMERS} k WHERE k.status = 'NORMAL' AND k.overdue_since IS NOT NULL "
    f"AND EXISTS (SELECT 1 FROM {_INSTALLMENTS} o WHERE o.customer_id = k.id AND o.status = 'OVERDUE')"
)
_AUDIT_FLIPS = (
    f"INSERT INTO {AuditEvent._meta.db_table} "
    "(at, actor_kind, actor_user_id, actor_label, action, target_type, target_id, customer_ref, data) "
    "SELECT %s, %s, NULL, %s, 'customer.status_changed', 'customer', c.customer_id, c.customer_id, %s "
    f"FROM {_CUSTOMERS} c WHERE c.status = 'NORMAL' AND (c.hold_until IS NULL OR c.hold_until < %s) "
    f"AND c.id IN ({_LATE_CUSTOMERS})"
)


def _audit_flips(*, as_of: datetime.date, cutoff: datetime.date, now: datetime.datetime, actor: Actor) -> int:
    """One customer.status_changed row per NORMAL customer about to become DEBT_USER (not on hold)."""
    data = {"from": "NORMAL", "to": "DEBT_USER", "reason": _DEBT_REASON}
    at = AuditEvent._meta.get_field("at").get_db_prep_value(now, connection)
    data = AuditEvent._meta.get_field("data").get_db_prep_value(data, connection)
    with connection.cursor() as cursor:
        cursor.execute(_AUDIT_FLIPS, [at, actor.kind, actor.label, data, as_of, cutoff])
        return cursor.rowcount


@transaction.atomic
def check_overdue(*, as_of: datetime.date | None = None, actor: Actor | None = None) -> OverdueResult:
    """Rule 2: UPCOMING installments late as of `as_of` (due before it, less the grace days of
    rule 10) become OVERDUE; their customers DEBT_USER (each audited), with `overdue_since` moved
    back to their oldest late installment.

    Set-based, the same statements on SQLite and PostgreSQL: a constant number of queries whatever
    the number of rows, driven by the installments falling due rather than by every customer.
    Customers change before their installments, so the late ones are still told apart by status.
    Running it twice changes nothing the second time.
    """
    actor = actor or Actor.system("overdue-checker")
    as_of = as_of or timezone.localdate()
    cutoff = overdue_cutoff(as_of)
    now = timezone.now()
    customer_services.hold_debt_status_lock(exclusive=True)
    falling_due = Installment.objects.filter(status=Installment.Status.UPCOMING, due_date__lt=cutoff)
    late = Customer.objects.filter(pk__in=RawSQL(_LATE_CUSTOMERS, [cutoff]))
    # Locked first: a plan being created for one of them is waited for, and audited before the flip.
    list(late.filter(status=Customer.Status.NORMAL).select_for_update().order_by().values_list("pk", flat=True))
    flipped = _audit_flips(as_of=as_of, cutoff=cutoff, now=now, actor=actor)
    oldest = Subquery(
        Installment.objects.filter(customer=OuterRef("pk"))
        .filter(Q(status=Installment.Status.OVERDUE) | Q(status=Installment.Status.UPCOMING, due_date__lt=cutoff))
        .order_by()
        .values("customer")
        .annotate(oldest=Min("due_date"))
        .values("oldest")
    )
    # NORMAL ones flip, unless on hold (rule 11: they only get their overdue_since); debt users
    # only get an older overdue_since, when it is. A hold whose day has passed ends with the flip.
    # Every late customer's overdue amount grows (plans.balances): one row version each.
    held = Q(hold_until__gte=as_of)
    late.update(
        status=Case(When(held, then=F("status")), default=Value(Customer.Status.DEBT_USER)),
        hold_until=Case(When(held, then=F("hold_until")), default=None),
        hold_reason=Case(When(held, then=F("hold_reason")), default=Value("")),
        hold_set_by=Case(When(held, then=F("hold_set_by")), default=None),
        updated_at=now,
        overdue_since=oldest,
        **balances.overdue_column(late_before=cutoff),
    )
    # While the late ones are still told apart by their UPCOMING installments; cases opened
    # below copy it themselves.
    collection_services.sync_queue_overdue_since(customers=late)
    marked = falling_due.update(status=Installment.Status.OVERDUE)
    cases = collection_services.open_cases_for_new_debt(now=now)
    kept, broken = collection_services.evaluate_promises(as_of=as_of, now=now)
    result = OverdueResult(
        as_of=as_of,
        installments_marked_overdue=marked,
        customers_marked_debt=flipped,
        cases_opened=cases,
        promises_kept=kept,
        promises_broken=broken,
    )
    if marked or flipped or cases or kept or broken:
        audit.record(
            actor=actor,
            action="overdue.checked",
            target_type="overdue_check",
            target_id=as_of.isoformat(),
            data={
                "installments_marked_overdue": marked,
                "customers_marked_debt": flipped,
                "cases_opened": cases,
                "promises_kept": kept,
                "promises_broken": broken,
            },
        )
    logger.info(
        "check_overdue as_of=%s installments_marked_overdue=%d customers_marked_debt=%d", as_of, marked, flipped
    )
    return result
