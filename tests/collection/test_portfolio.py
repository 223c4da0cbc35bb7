"""Rule 10: DPD buckets and PAR on a fixture with hand-computed figures."""

import datetime
from decimal import Decimal

import pytest

from bnpl_admin.collection import portfolio
from bnpl_admin.collection.models import PortfolioSnapshot
from bnpl_admin.plans import ledger
from bnpl_admin.plans.services import check_overdue
from tests.factories import PlanFactory

pytestmark = pytest.mark.django_db
D = Decimal
AS_OF = datetime.date(2026, 12, 1)


@pytest.fixture
def book(actor):
    """Four customers as of 2026-12-01 (DPD: days since the oldest overdue due date):
    A 300.00 in 3, #1 due 11-16 (DPD 15), 50.00 paid       -> 1-30, 250.00 outstanding
    B 600.00 in 3, #1 due 10-17 and #2 11-17 (DPD 45)      -> 31-60, 600.00
    C  90.00 in 3, all due by 08-23 (DPD 161)              -> 90+, 90.00
    D 1000.00 in 2, first due 12-20                         -> not past due, 1000.00
    Total 1,940.00; PAR30 = 690/1940 = 0.3557; PAR60 = PAR90 = 90/1940 = 0.0464."""
    a = PlanFactory(total_amount=D("300.00"), start_date=datetime.date(2026, 10, 16))
    PlanFactory(total_amount=D("600.00"), start_date=datetime.date(2026, 9, 17))
    PlanFactory(total_amount=D("90.00"), start_date=datetime.date(2026, 5, 23))
    PlanFactory(total_amount=D("1000.00"), installment_count=2, start_date=datetime.date(2026, 11, 20))
    check_overdue(as_of=AS_OF)
    ledger.record_payment(customer_id=a.customer.customer_id, amount="50.00", reference="a-1", actor=actor)


def test_buckets_and_par_are_the_hand_computed_ones(book):
    figures = portfolio.compute(AS_OF)

    assert figures["total_outstanding"] == D("1940.00")
    assert [(b["bucket"], b["customers"], b["outstanding"]) for b in figures["buckets"]] == [
        ("1-30", 1, D("250.00")),
        ("31-60", 1, D("600.00")),
        ("61-90", 0, D("0.00")),
        ("90+", 1, D("90.00")),
    ]
    assert (figures["par30"], figures["par60"], figures["par90"]) == (D("0.3557"), D("0.0464"), D("0.0464"))


def test_the_snapshot_keeps_one_row_per_day(book):
    portfolio.refresh(AS_OF)
    snapshot = portfolio.refresh(AS_OF)

    assert PortfolioSnapshot.objects.count() == 1
    assert portfolio.latest() == snapshot
    assert snapshot.buckets[1] == {"bucket": "31-60", "customers": 1, "outstanding": "600.00"}
    assert snapshot.par30 == D("0.3557")


@pytest.mark.parametrize(
    ("dpd", "label"), [(0, "1-30"), (1, "1-30"), (30, "1-30"), (31, "31-60"), (90, "61-90"), (91, "90+")]
)
def test_bucket_edges(dpd, label):
    assert portfolio.bucket_of(dpd) == label


def test_an_empty_book_has_no_risk(db):
    figures = portfolio.compute(AS_OF)
    assert figures["total_outstanding"] == D("0.00") and figures["par30"] == D("0.0000")
