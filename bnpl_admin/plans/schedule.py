"""Schedule maths: splitting an amount into installments and their due dates."""

import calendar
import datetime
from decimal import Decimal

from django.conf import settings

CENT = Decimal("0.01")
MIN_INSTALLMENTS = 2
MAX_INSTALLMENTS = 24


def split_amount(total: Decimal, count: int) -> list[Decimal]:
    """Split `total` into `count` amounts in whole cents that add up to it exactly.

    The first `r` installments carry the `r` left-over cents: 500.00 / 3 -> 166.67, 166.67, 166.66.
    """
    if count < 1:
        raise ValueError("count must be positive")
    cents = int((total / CENT).to_integral_exact())
    base, remainder = divmod(cents, count)
    return [(Decimal(base + (1 if i < remainder else 0)) * CENT).quantize(CENT) for i in range(count)]


def add_months(start: datetime.date, months: int) -> datetime.date:
    """The same day `months` calendar months later, clamped to the month's end (Jan 31 -> Feb 28/29)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return datetime.date(year, month, day)


def due_dates(start: datetime.date, count: int) -> list[datetime.date]:
    """Installment n is due n calendar months after the start, each counted from the start."""
    return [add_months(start, n) for n in range(1, count + 1)]


def build_schedule(total: Decimal, count: int, start: datetime.date) -> list[tuple[int, Decimal, datetime.date]]:
    """(number, amount_due, due_date) for each installment."""
    return list(zip(range(1, count + 1), split_amount(total, count), due_dates(start, count), strict=True))


def overdue_cutoff(as_of: datetime.date) -> datetime.date:
    """Rule 10: an unpaid installment is late once `due_date + OVERDUE_GRACE_DAYS < as_of`, that is
    when it fell due before the date returned."""
    return as_of - datetime.timedelta(days=settings.OVERDUE_GRACE_DAYS)
