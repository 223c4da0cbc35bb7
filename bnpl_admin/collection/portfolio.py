"""Rule 10: days past due (DPD), delinquency buckets and portfolio at risk (PAR30/60/90).

A customer's DPD is the number of days since the due date of their oldest OVERDUE installment
(`Customer.overdue_since`, kept by the checker and the ledger). PARn is the remaining amount of
every installment of the customers more than n days past due, over the remaining amount of all
ACTIVE plans.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Case, Count, Q, Sum, Value, When
from django.utils import timezone

from bnpl_admin.collection.models import PortfolioSnapshot
from bnpl_admin.money import CENT

ZERO = Decimal("0.00")
SHARE = Decimal("0.0001")


@dataclass(frozen=True)
class Bucket:
    label: str
    first_day: int
    last_day: int | None  # None: no upper bound

    def overdue_since_range(self, as_of: datetime.date) -> tuple[datetime.date | None, datetime.date]:
        """The `overdue_since` dates (inclusive) of the customers in this bucket as of a day."""
        latest = as_of - datetime.timedelta(days=self.first_day)
        earliest = None if self.last_day is None else as_of - datetime.timedelta(days=self.last_day)
        return earliest, latest


BUCKETS = (Bucket("1-30", 1, 30), Bucket("31-60", 31, 60), Bucket("61-90", 61, 90), Bucket("90+", 91, None))
BY_LABEL = {bucket.label: bucket for bucket in BUCKETS}


def bucket_of(dpd: int) -> str:
    """The bucket of a number of days past due (0 counts as the first: due and not yet a day late)."""
    for bucket in BUCKETS:
        if bucket.last_day is None or dpd <= bucket.last_day:
            return bucket.label
    raise AssertionError("unreachable")


def days_past_due(overdue_since: datetime.date | None, today: datetime.date | None = None) -> int | None:
    """A customer's DPD: days since the due date of their oldest OVERDUE installment; None if none."""
    if overdue_since is None:
        return None
    return ((today or timezone.localdate()) - overdue_since).days


def bucket_label(overdue_since: datetime.date | None, today: datetime.date | None = None) -> str:
    """The bucket of a customer past due since that day, "" when they are not past due."""
    dpd = days_past_due(overdue_since, today)
    return "" if dpd is None else bucket_of(dpd)


def in_bucket(label: str, as_of: datetime.date, prefix: str = "") -> Q:
    """A filter on `overdue_since` for the customers of one bucket as of a day."""
    earliest, latest = BY_LABEL[label].overdue_since_range(as_of)
    condition = Q(**{f"{prefix}overdue_since__lte": latest})
    if earliest is not None:
        condition &= Q(**{f"{prefix}overdue_since__gte": earliest})
    return condition


def _share(part: Decimal, whole: Decimal) -> Decimal:
    return (part / whole).quantize(SHARE, rounding=ROUND_HALF_UP) if whole else Decimal("0.0000")


def compute(as_of: datetime.date) -> dict:
    """The figures of rule 10 as of a day: two aggregate queries, over the customers past due
    (through the index on `overdue_since`) and over the open installments."""
    from bnpl_admin.customers.models import Customer
    from bnpl_admin.plans.models import OPEN_STATUSES, Installment

    # Tested from the oldest bucket down; anything else (a DPD of 0 or less) counts in the first.
    bucket = Case(
        *[When(in_bucket(b.label, as_of), then=Value(b.label)) for b in reversed(BUCKETS[1:])],
        default=Value(BUCKETS[0].label),
    )
    rows = (
        Customer.objects.filter(overdue_since__isnull=False)
        .annotate(bucket=bucket)
        .values("bucket")
        .annotate(
            customers=Count("id", distinct=True),
            outstanding=Sum("installments__amount_remaining", filter=Q(installments__status__in=OPEN_STATUSES)),
        )
        .order_by()
    )
    found = {row["bucket"]: row for row in rows}
    # Only installments of ACTIVE plans are open: a completed or cancelled plan has nothing remaining.
    total = Installment.objects.filter(status__in=OPEN_STATUSES).aggregate(total=Sum("amount_remaining"))["total"]
    total = (total or ZERO).quantize(CENT)
    buckets = [
        {
            "bucket": b.label,
            "customers": found.get(b.label, {}).get("customers", 0),
            "outstanding": (found.get(b.label, {}).get("outstanding") or ZERO).quantize(CENT),
        }
        for b in BUCKETS
    ]
    above = {
        days: sum((row["outstanding"] for row in buckets[i:]), start=ZERO) for i, days in ((1, 30), (2, 60), (3, 90))
    }
    return {
        "as_of": as_of,
        "total_outstanding": total,
        "buckets": buckets,
        "par30": _share(above[30], total),
        "par60": _share(above[60], total),
        "par90": _share(above[90], total),
    }


@transaction.atomic
def refresh(as_of: datetime.date | None = None) -> PortfolioSnapshot:
    """Compute the figures and keep them as the day's snapshot (the checker's schedule calls it)."""
    as_of = as_of or timezone.localdate()
    figures = compute(as_of)
    snapshot, _ = PortfolioSnapshot.objects.update_or_create(
        as_of=as_of,
        defaults={
            "computed_at": timezone.now(),
            "total_outstanding": figures["total_outstanding"],
            "buckets": [{**row, "outstanding": str(row["outstanding"])} for row in figures["buckets"]],
            "par30": figures["par30"],
            "par60": figures["par60"],
            "par90": figures["par90"],
        },
    )
    return snapshot


def latest() -> PortfolioSnapshot | None:
    """The newest snapshot (one indexed row), or None before the first check."""
    return PortfolioSnapshot.objects.order_by("-as_of").first()
