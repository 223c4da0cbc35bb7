"""Read queries about customers: lists, the profile, debt figures and the timeline."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import DecimalField, F, FilteredRelation, IntegerField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.customers import encryption, masking
from bnpl_admin.customers.errors import CustomerNotFound
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.prepared import NUMBER, PreparedQuery, columns, every_column
from bnpl_admin.text import storable
from bnpl_admin.webhooks.models import Merchant

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
    return Customer.objects.only(*LIST_COLUMNS).order_by("customer_id")


def customer_list_page(after: str | None, size: int) -> list[Customer]:
    """The first `size` customers of `customer_list()`, or the first `size` after the customer id
    `after`: the API list's first page and its keyset pages, with their SQL prepared once per
    process and page size (building it was a tenth of a list call). `after` must be storable
    (the API's keyset pattern allows no NUL)."""
    if after is None:
        return _list_page(size, keyset=False).instances()
    return _list_page(size, keyset=True).instances(after)


@functools.cache
def _list_page(size: int, *, keyset: bool) -> PreparedQuery:
    fields = columns(Customer, LIST_COLUMNS)
    if not keyset:
        return PreparedQuery(lambda: customer_list().values_list(*fields)[:size], values=0)
    return PreparedQuery(lambda start: customer_list().filter(customer_id__gt=start).values_list(*fields)[:size])


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


# Every profile, plan, payment and API customer read starts here: SQL prepared once per process.
_CUSTOMER = PreparedQuery(
    lambda customer_id: Customer.objects.filter(customer_id=customer_id).values_list(*every_column(Customer)),
    values=1,
)
_CUSTOMER_LOCKED = PreparedQuery(
    lambda customer_id: (
        Customer.objects.select_for_update().filter(customer_id=customer_id).values_list(*every_column(Customer))
    ),
    values=1,
)


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
    customer = (_CUSTOMER_LOCKED if for_update else _CUSTOMER).one(customer_id)
    if customer is None:
        raise CustomerNotFound(customer_id)
    return customer


_PLAN_COLUMNS = every_column(Plan)
_INSTALLMENT_COLUMNS = every_column(Installment)
_MERCHANT_COLUMNS = every_column(Merchant)
# A customer's plans, newest first, each with its installments in order and its merchant: one row
# per installment (a plan without any still has its row), the plan's and merchant's columns beside.
_PLANS_WITH_INSTALLMENTS = PreparedQuery(
    lambda customer_pk: (
        Plan.objects.filter(customer_id=customer_pk)
        .order_by("-created_at", "id", "installments__number")
        .values_list(
            *_PLAN_COLUMNS,
            *[f"installments__{name}" for name in _INSTALLMENT_COLUMNS],
            *[f"merchant__{name}" for name in _MERCHANT_COLUMNS],
        )
    ),
    placeholders=(NUMBER,),
)


def plans_with_installments(customer: Customer) -> list[Plan]:
    """The customer's plans, newest first, each with its merchant and `installments_in_order`
    (what `Prefetch("installments", to_attr=...)` leaves), read in one query whose SQL is prepared
    once per process: building the ORM's queries was a fifth of the profile page, and the three
    queries this replaces (plans, installments, merchants) were three round trips."""
    using = _PLANS_WITH_INSTALLMENTS.using
    plan_end = len(_PLAN_COLUMNS)
    installment_end = plan_end + len(_INSTALLMENT_COLUMNS)
    plans: dict = {}
    merchants: dict = {}
    for row in _PLANS_WITH_INSTALLMENTS.rows(customer.pk):
        plan_id = row[0]  # every_column() starts with the key, here and in each slice below
        plan = plans.get(plan_id)
        if plan is None:
            plan = plans[plan_id] = Plan.from_db(using, _PLAN_COLUMNS, row[:plan_end])
            plan.customer = customer
            plan.installments_in_order = []
            merchant_row = row[installment_end:]
            if merchant_row[0] is not None:  # (assigning None would clear merchant_id)
                if merchant_row[0] not in merchants:
                    merchants[merchant_row[0]] = Merchant.from_db(using, _MERCHANT_COLUMNS, merchant_row)
                plan.merchant = merchants[merchant_row[0]]
        installment_row = row[plan_end:installment_end]
        if installment_row[0] is not None:
            installment = Installment.from_db(using, _INSTALLMENT_COLUMNS, installment_row)
            installment.plan = plan
            plan.installments_in_order.append(installment)
    return list(plans.values())


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
    has already loaded (`plans_with_installments`) instead of asking the database again."""
    unpaid = [i for i in installments if i.status != Installment.Status.PAID]
    overdue = [i for i in unpaid if i.status == Installment.Status.OVERDUE]
    return DebtSummary(
        total_overdue=sum((i.amount_due for i in overdue), start=Decimal("0.00")),
        overdue_count=len(overdue),
        oldest_due_date=min((i.due_date for i in overdue), default=None),
        outstanding=sum((i.amount_due for i in unpaid), start=Decimal("0.00")),
    )


def debt_users() -> QuerySet[Customer]:
    """DEBT_USER customers with their overdue figures, for the risk review, oldest debt first.

    The order comes from `overdue_since` (kept on the customer) through an index, and the figures
    are per-row subqueries, so a page of 25 reads 25 customers, not the aggregates of every debt
    user (100,000 at a million customers). The queryset is built once per process and cloned
    (`.all()`, as a view's `queryset` attribute is): building its subqueries cost more than the
    rest of the query.
    """
    return _debt_users().all()


def _of_overdue_installments(aggregate: str) -> str:
    """SQL of `aggregate` over the customer row's OVERDUE installments (one index range each).

    Written out rather than as `Subquery(...)`: Django compiled the two subqueries again for every
    page (a twentieth of the risk review's time), while this text is only pasted in. It names the
    customer table, so the queryset it annotates must stay the outer query (filtered, sorted and
    sliced as the risk review does), never nested in another one, where the table is renamed.
    """
    customers = Customer._meta.db_table
    return (
        f"SELECT {aggregate} FROM {Installment._meta.db_table} i WHERE i.customer_id = {customers}.id AND i.status = %s"
    )


@functools.cache
def _debt_users() -> QuerySet[Customer]:
    amount = Installment._meta.get_field("amount_due")
    overdue = (Installment.Status.OVERDUE,)
    return (
        Customer.objects.filter(status=Customer.Status.DEBT_USER)
        .only(*LIST_COLUMNS, "overdue_since")
        .annotate(
            # NULL (shown as a dash) when the customer has no overdue installment, as SUM gives it.
            total_overdue=RawSQL(
                _of_overdue_installments("SUM(i.amount_due)"),
                overdue,
                output_field=DecimalField(max_digits=amount.max_digits, decimal_places=amount.decimal_places),
            ),
            overdue_count=RawSQL(_of_overdue_installments("COUNT(*)"), overdue, output_field=IntegerField()),
            oldest_due_date=F("overdue_since"),
        )
        .order_by(F("overdue_since").asc(nulls_last=True), "customer_id")
    )


def timeline(customer: Customer, *, limit: int = 100) -> list[AuditEvent]:
    """Everything that happened to a customer, newest first (SQL prepared once per process)."""
    return _timeline(limit).instances(customer.customer_id)


@functools.cache
def _timeline(limit: int) -> PreparedQuery:
    return PreparedQuery(
        lambda customer_ref: (
            AuditEvent.objects.filter(customer_ref=customer_ref)
            .order_by("-at", "-id")
            .values_list(*every_column(AuditEvent))[:limit]
        )
    )


def _debt_status_rows(customer_id: str) -> QuerySet:
    overdue = FilteredRelation("installments", condition=Q(installments__status=Installment.Status.OVERDUE))
    return (
        Customer.objects.filter(customer_id=customer_id)
        .annotate(overdue=overdue)
        .order_by("overdue__due_date", "overdue__id")
        .values_list("status", "overdue__id", "overdue__plan_id", "overdue__amount_due", "overdue__due_date")
    )


_DEBT_STATUS = PreparedQuery(_debt_status_rows, values=1)


def debt_status(customer_id: str) -> dict:
    """The API's debt status of a customer: the OVERDUE installments (oldest first, each with
    `days_overdue`) and what they add up to; CustomerNotFound for an unknown id.

    One query for the customer and its overdue installments (a LEFT JOIN), its SQL prepared once
    per process: this is the API's most called read.
    """
    refuse_unstorable_id(customer_id)
    rows = _DEBT_STATUS.rows(customer_id)
    if not rows:
        raise CustomerNotFound(customer_id)
    today = timezone.localdate()
    installments = []
    for _, pk, plan_id, amount_due, due_date in rows:
        if pk is not None:
            installment = Installment(
                id=pk, plan_id=plan_id, amount_due=amount_due, due_date=due_date, status=Installment.Status.OVERDUE
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
