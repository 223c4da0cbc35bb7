"""Read queries about customers: lists, the profile, debt figures and the timeline."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, FilteredRelation, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.customers import encryption, masking
from bnpl_admin.customers.errors import CustomerNotFound
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans.models import Installment
from bnpl_admin.text import storable

# Columns a list or export may read: never the encrypted ones. Everything the API's customer body
# shows is here (a column left out is fetched row by row when serialised: one query per row).
LIST_COLUMNS = (
    "id",
    "customer_id",
    "full_name",
    "phone_masked",
    "passport_masked",
    "card_masked",
    "date_of_birth",
    "status",
    "created_at",
)


def customer_list() -> QuerySet[Customer]:
    """The customers list: masked columns, days past due (`overdue_since`), and who owes what
    (stored by plans.balances)."""
    return Customer.objects.only(*LIST_COLUMNS, "overdue_since", "outstanding_amount", "overdue_amount").order_by(
        "customer_id"
    )


def phone_lookup_hash(phone_number: str) -> str:
    """The lookup hash of a phone number as typed by an agent (spaces, dashes and brackets allowed)."""
    return encryption.lookup_hash(masking.normalize_phone(phone_number))


def looks_like_phone(text: str) -> bool:
    return masking.mask_phone(text) not in ("", masking.FULL_MASK)


def search_customers(queryset: QuerySet[Customer], text: str) -> QuerySet[Customer]:
    """Exact phone (through the lookup hash), customer id (exact or prefix), or part of the name."""
    text = (text or "").strip()
    if not text:
        return queryset
    if looks_like_phone(text):
        return queryset.filter(phone_hash=phone_lookup_hash(text))
    return queryset.filter(Q(customer_id__istartswith=text) | Q(full_name__icontains=text))


def refuse_unstorable_id(customer_id: str) -> None:
    """CustomerNotFound for an id no customer can have (`text.storable`: PostgreSQL cannot even
    compare it), before any query is tried with it."""
    if not storable(customer_id):
        raise CustomerNotFound(customer_id.replace("\x00", ""))


def get_customer(customer_id: str, *, for_update: bool = False) -> Customer:
    """The customer by id (row-locked until the transaction ends with `for_update`), or CustomerNotFound."""
    refuse_unstorable_id(customer_id)
    if for_update and not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("select_for_update cannot be used outside of a transaction.")
    customers = Customer.objects.select_for_update() if for_update else Customer.objects
    try:
        return customers.get(customer_id=customer_id)
    except Customer.DoesNotExist:
        raise CustomerNotFound(customer_id) from None


@dataclass(frozen=True)
class DebtSummary:
    total_overdue: Decimal
    overdue_count: int
    oldest_due_date: datetime.date | None
    outstanding: Decimal

    @property
    def days_overdue(self) -> int:
        if self.oldest_due_date is None:
            return 0
        return (timezone.localdate() - self.oldest_due_date).days


def debt_summary(installments: Iterable[Installment]) -> DebtSummary:
    """The debt figures of a customer's installments: the profile adds up those of the plans it
    has already loaded (`plans_of`) instead of asking the database again."""
    unpaid = [i for i in installments if i.is_open]
    overdue = [i for i in unpaid if i.status == Installment.Status.OVERDUE]
    return DebtSummary(
        total_overdue=sum((i.amount_remaining for i in overdue), start=Decimal("0.00")),
        overdue_count=len(overdue),
        oldest_due_date=min((i.due_date for i in overdue), default=None),
        outstanding=sum((i.amount_remaining for i in unpaid), start=Decimal("0.00")),
    )


def debt_users() -> QuerySet[Customer]:
    """DEBT_USER customers with their overdue figures, for the risk review, oldest debt first.

    The order comes from `overdue_since` (kept on the customer) through an index, and the figures
    are per-row subqueries, so a page of 25 reads 25 customers, not the aggregates of every debt
    user.
    """
    per_customer = (
        Installment.objects.filter(customer=OuterRef("pk"), status=Installment.Status.OVERDUE)
        .order_by()
        .values("customer")
    )
    return (
        Customer.objects.filter(status=Customer.Status.DEBT_USER)
        .only(*LIST_COLUMNS, "overdue_since")
        .annotate(
            # NULL (shown as a dash) when the customer has no overdue installment, as SUM gives it.
            total_overdue=Subquery(per_customer.annotate(total=Sum("amount_remaining")).values("total")),
            overdue_count=Coalesce(Subquery(per_customer.annotate(count=Count("*")).values("count")), 0),
            oldest_due_date=F("overdue_since"),
        )
        .order_by(F("overdue_since").asc(nulls_last=True), "customer_id")
    )


def timeline(customer: Customer, *, limit: int = 100) -> list[AuditEvent]:
    """Everything that happened to a customer, newest first."""
    return list(AuditEvent.objects.filter(customer_ref=customer.customer_id).order_by("-at", "-id")[:limit])


def _debt_status_rows(customer_id: str) -> QuerySet:
    overdue = FilteredRelation("installments", condition=Q(installments__status=Installment.Status.OVERDUE))
    return (
        Customer.objects.filter(customer_id=customer_id)
        .annotate(overdue=overdue)
        .order_by("overdue__due_date", "overdue__id")
        .values_list(
            "status",
            "overdue__id",
            "overdue__plan_id",
            "overdue__amount_due",
            "overdue__amount_paid",
            "overdue__amount_refunded",
            "overdue__amount_remaining",
            "overdue__due_date",
        )
    )


def debt_status(customer_id: str) -> dict:
    """The API's debt status of a customer: the OVERDUE installments (oldest first, each with
    `days_overdue`) and what they add up to; CustomerNotFound for an unknown id.

    One query for the customer and its overdue installments (a LEFT JOIN): the API's most called read.
    """
    refuse_unstorable_id(customer_id)
    rows = list(_debt_status_rows(customer_id))
    if not rows:
        raise CustomerNotFound(customer_id)
    today = timezone.localdate()
    installments = []
    for _, pk, plan_id, amount_due, paid, refunded, left, due_date in rows:
        if pk is not None:
            installment = Installment(
                id=pk,
                plan_id=plan_id,
                amount_due=amount_due,
                amount_paid=paid,
                amount_refunded=refunded,
                amount_remaining=left,
                due_date=due_date,
                status=Installment.Status.OVERDUE,
            )
            installment.days_overdue = (today - due_date).days
            installments.append(installment)
    summary = debt_summary(installments)
    return {
        "user_id": customer_id,
        "has_overdue": bool(installments),
        "total_debt": summary.total_overdue,
        "overdue_installments": installments,
        "total_overdue_count": summary.overdue_count,
        "user_status": rows[0][0],
    }
