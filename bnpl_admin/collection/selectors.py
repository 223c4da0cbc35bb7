"""Read queries of the collections pages: the queue of open cases, a case with what it holds, the
case panel of a profile, the users who may work cases, and the portfolio figures as pages show them."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import F, OuterRef, Q, QuerySet, Subquery

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.collection import portfolio
from bnpl_admin.collection.models import Case, CaseNote, PortfolioSnapshot, PromiseToPay
from bnpl_admin.collection.services import WORK_PERMISSION

# The queue reads these columns of the customer only: never the encrypted ones.
CUSTOMER_COLUMNS = ("customer__id", "customer__customer_id", "customer__full_name", "customer__overdue_since")
QUEUE_VIEWS = (("all", "All open"), ("mine", "Mine"), ("unassigned", "Unassigned"))
PANEL_ROWS = 5  # notes and promises shown on a profile's case panel


def _promises(status: str):
    return PromiseToPay.objects.filter(case=OuterRef("pk"), status=status).order_by()


def case_queue(*, user=None, view: str = "all") -> QuerySet[Case]:
    """The OPEN cases, those with a BROKEN promise first, then by days past due (the oldest
    `overdue_since` first), ties by case id: a total order, so that pages never repeat a row. The
    order is read from the cases' own sort keys (`Case.queue_broken`, `queue_overdue_since`).

    `view` "mine" keeps `user`'s cases, "unassigned" those of nobody. Each row carries its next
    PENDING promise (date and amount) and its latest BROKEN one's date, as per-row subqueries: a
    page of 25 reads 25 cases.
    """
    cases = Case.objects.filter(status=Case.Status.OPEN)
    if view == "mine" and user is not None:
        cases = cases.filter(assignee=user)
    elif view == "unassigned":
        cases = cases.filter(assignee__isnull=True)
    pending = _promises(PromiseToPay.Status.PENDING).order_by("due_date", "id")
    return (
        cases.select_related("customer", "assignee")
        .only(
            "id", "status", "opened_at", "queue_broken", "customer", "assignee", "assignee__username", *CUSTOMER_COLUMNS
        )
        .annotate(
            broken_on=Subquery(_promises(PromiseToPay.Status.BROKEN).order_by("-due_date").values("due_date")[:1]),
            next_promise_on=Subquery(pending.values("due_date")[:1]),
            next_promise_amount=Subquery(pending.values("amount")[:1]),
            overdue_since=F("customer__overdue_since"),
        )
        # The case_queue_order index: the customer's own columns only for the page's rows.
        .order_by(F("queue_broken").desc(), F("queue_overdue_since").asc(nulls_last=True), "id")
    )


def case_workers() -> QuerySet:
    """Active users who may work collection cases (the assign form's choices), by username."""
    codename = WORK_PERMISSION.split(".")[1]
    permission = Permission.objects.filter(content_type__app_label="collection", codename=codename)
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__permissions__in=permission) | Q(user_permissions__in=permission))
        .distinct()
        .order_by("username")
    )


@dataclass(frozen=True)
class CaseView:
    case: Case
    notes: list[CaseNote]
    promises: list[PromiseToPay]
    outstanding: Decimal
    history: list[AuditEvent]

    @property
    def dpd(self) -> int | None:
        return portfolio.days_past_due(self.case.customer.overdue_since)

    @property
    def bucket(self) -> str:
        return portfolio.bucket_label(self.case.customer.overdue_since)


def case_view(case_id) -> CaseView:
    """A case with its customer (masked columns only), every note and promise, the customer's
    outstanding amount and the case's audit events; Case.DoesNotExist for an unknown id."""
    from bnpl_admin.customers.selectors import LIST_COLUMNS

    case = (
        Case.objects.select_related("customer", "assignee", "customer__hold_set_by")
        .only(
            "id",
            "status",
            "opened_at",
            "closed_at",
            "customer",
            "assignee",
            "assignee__username",
            *(f"customer__{name}" for name in LIST_COLUMNS),
            "customer__overdue_since",
            "customer__outstanding_amount",
            "customer__hold_until",
            "customer__hold_reason",
            "customer__hold_set_by",
            "customer__hold_set_by__username",
        )
        .get(pk=case_id)
    )
    history = AuditEvent.objects.filter(target_type="case", target_id=str(case.pk)).order_by("-at", "-id")[:50]
    return CaseView(
        case=case,
        notes=list(case.notes.select_related("author")),
        promises=list(case.promises.select_related("created_by")),
        outstanding=case.customer.outstanding_amount,  # stored by plans.balances
        history=list(history),
    )


@dataclass(frozen=True)
class CasePanel:
    case: Case
    notes: list[CaseNote]
    promises: list[PromiseToPay]


def open_case_panel(customer) -> CasePanel | None:
    """The customer's OPEN case for the profile, with its latest notes and promises (three queries,
    one when there is no open case)."""
    case = Case.objects.select_related("assignee").filter(customer=customer, status=Case.Status.OPEN).first()
    if case is None:
        return None
    return CasePanel(
        case=case,
        notes=list(case.notes.select_related("author")[:PANEL_ROWS]),
        promises=list(case.promises.select_related("created_by")[:PANEL_ROWS]),
    )


@dataclass(frozen=True)
class BucketFigures:
    label: str
    customers: int
    outstanding: Decimal


@dataclass(frozen=True)
class PortfolioFigures:
    """A snapshot as the pages show it: amounts as Decimals, shares as percentages."""

    as_of: datetime.date
    computed_at: datetime.datetime
    total_outstanding: Decimal
    buckets: list[BucketFigures]
    par: list[tuple[int, Decimal]]  # (30, Decimal("35.57")): PAR30 is 35.57 %

    @property
    def customers_past_due(self) -> int:
        return sum(bucket.customers for bucket in self.buckets)


def figures_of(snapshot: PortfolioSnapshot | None) -> PortfolioFigures | None:
    if snapshot is None:
        return None
    return PortfolioFigures(
        as_of=snapshot.as_of,
        computed_at=snapshot.computed_at,
        total_outstanding=snapshot.total_outstanding,
        buckets=[
            BucketFigures(label=row["bucket"], customers=int(row["customers"]), outstanding=Decimal(row["outstanding"]))
            for row in snapshot.buckets
        ],
        par=[
            (days, (share * 100).quantize(Decimal("0.01")))
            for days, share in ((30, snapshot.par30), (60, snapshot.par60), (90, snapshot.par90))
        ],
    )


def portfolio_figures() -> PortfolioFigures | None:
    """The newest snapshot's figures (one indexed row), None before the first overdue check."""
    return figures_of(portfolio.latest())
