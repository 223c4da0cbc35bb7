"""The demo data is on the ledger: paid installments have payments, approved refunds are applied."""

import pytest

from bnpl_admin.demo.seed import seed
from bnpl_admin.plans.models import Installment, Payment
from bnpl_admin.refunds.models import Refund
from tests.ledger.invariants import assert_ledger_consistent

pytestmark = pytest.mark.django_db


def test_seeded_books_keep_the_ledger_invariants():
    seed(customers=30, seed=7)

    assert (
        Payment.objects.filter(reference__startswith="seed-").count()
        == Installment.objects.filter(status="PAID").count()
    )
    assert not Refund.objects.filter(status="APPROVED", amount_applied__isnull=True).exists()
    assert_ledger_consistent()
