"""Schedule maths (DESIGN: Installment): cent-exact splits, calendar-month due dates clamped to month end."""

import datetime
from decimal import Decimal

import pytest

from bnpl_admin.plans.schedule import MAX_INSTALLMENTS, MIN_INSTALLMENTS, add_months, build_schedule, split_amount

D = Decimal


@pytest.mark.parametrize(
    ("total", "count", "amounts"),
    [
        ("500.00", 3, ["166.67", "166.67", "166.66"]),
        ("100.00", 3, ["33.34", "33.33", "33.33"]),
        ("100.00", 4, ["25.00", "25.00", "25.00", "25.00"]),
        ("0.05", 2, ["0.03", "0.02"]),
        ("10.01", 2, ["5.01", "5.00"]),
        ("1000.00", 6, ["166.67", "166.67", "166.67", "166.67", "166.66", "166.66"]),
    ],
)
def test_the_first_installments_carry_the_left_over_cents(total, count, amounts):
    assert split_amount(D(total), count) == [D(a) for a in amounts]


TOTALS = ["0.24", "1.00", "9.99", "100.00", "333.33", "500.00", "999.99", "12345.67", "1000000.01", "999999999999.99"]


@pytest.mark.parametrize("count", range(MIN_INSTALLMENTS, MAX_INSTALLMENTS + 1))
@pytest.mark.parametrize("total", TOTALS)
def test_installments_always_add_up_to_the_total(total, count):
    amounts = split_amount(D(total), count)

    assert len(amounts) == count
    assert sum(amounts) == D(total)
    assert all(a == a.quantize(D("0.01")) for a in amounts)
    assert max(amounts) - min(amounts) <= D("0.01")
    assert amounts == sorted(amounts, reverse=True)


@pytest.mark.parametrize("count", [0, -1])
def test_splitting_into_no_installments_is_refused(count):
    with pytest.raises(ValueError):
        split_amount(D("100.00"), count)


@pytest.mark.parametrize(
    ("start", "months", "due"),
    [
        (datetime.date(2025, 1, 31), 1, datetime.date(2025, 2, 28)),
        (datetime.date(2024, 1, 31), 1, datetime.date(2024, 2, 29)),
        (datetime.date(2025, 1, 31), 2, datetime.date(2025, 3, 31)),
        (datetime.date(2025, 1, 31), 3, datetime.date(2025, 4, 30)),
        (datetime.date(2025, 3, 31), 1, datetime.date(2025, 4, 30)),
        (datetime.date(2025, 1, 15), 1, datetime.date(2025, 2, 15)),
        (datetime.date(2025, 12, 10), 1, datetime.date(2026, 1, 10)),
        (datetime.date(2025, 11, 30), 3, datetime.date(2026, 2, 28)),
        (datetime.date(2023, 12, 31), 2, datetime.date(2024, 2, 29)),
        (datetime.date(2025, 6, 1), 24, datetime.date(2027, 6, 1)),
        (datetime.date(2024, 2, 29), 12, datetime.date(2025, 2, 28)),
    ],
)
def test_due_dates_are_calendar_months_clamped_to_month_end(start, months, due):
    assert add_months(start, months) == due


def test_each_due_date_is_counted_from_the_start_not_from_the_previous_one():
    schedule = build_schedule(D("400.00"), 4, datetime.date(2025, 1, 31))

    assert [due for _, _, due in schedule] == [
        datetime.date(2025, 2, 28),
        datetime.date(2025, 3, 31),
        datetime.date(2025, 4, 30),
        datetime.date(2025, 5, 31),
    ]


def test_a_schedule_crossing_the_year_end_moves_to_the_next_year():
    schedule = build_schedule(D("500.00"), 3, datetime.date(2025, 11, 20))

    assert schedule == [
        (1, D("166.67"), datetime.date(2025, 12, 20)),
        (2, D("166.67"), datetime.date(2026, 1, 20)),
        (3, D("166.66"), datetime.date(2026, 2, 20)),
    ]
