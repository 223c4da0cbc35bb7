"""The ledger's migrations bring rows written before it into it: a PAID installment was paid in
full (one POSTED payment allocated to it), and an APPROVED refund reduces what is owed."""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.ledger.invariants import assert_ledger_consistent

BEFORE = [("plans", "0004_fewer_indexes"), ("refunds", "0002_refund_merchant"), ("customers", "0006_search_indexes")]
D = Decimal


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_paid_installments_get_payments_and_approved_refunds_are_applied():
    old = _migrate(BEFORE)
    Customer = old.get_model("customers", "Customer")
    Plan = old.get_model("plans", "Plan")
    Installment = old.get_model("plans", "Installment")
    Refund = old.get_model("refunds", "Refund")
    today = timezone.localdate()
    customer = Customer.objects.create(customer_id="usr-legacy", full_name="Legacy", status="DEBT_USER")
    plan = Plan.objects.create(customer=customer, total_amount=D("300.00"), installment_count=3, start_date=today)
    paid_at = timezone.now() - datetime.timedelta(days=3)
    for number, status in ((1, "PAID"), (2, "OVERDUE"), (3, "UPCOMING")):
        Installment.objects.create(
            plan=plan,
            customer=customer,
            number=number,
            amount_due=D("100.00"),
            due_date=today - datetime.timedelta(days=10) if number < 3 else today,
            status=status,
            paid_at=paid_at if status == "PAID" else None,
        )
    refund = Refund.objects.create(
        id=uuid.uuid4(),
        customer=customer,
        plan=plan,
        transaction_id="txn-legacy",
        amount=D("250.00"),
        status="APPROVED",
        processed_at=timezone.now(),
    )
    no_plan = Refund.objects.create(
        id=uuid.uuid4(), customer=customer, transaction_id="txn-np", amount=D("5.00"), status="APPROVED"
    )
    pending = Refund.objects.create(id=uuid.uuid4(), customer=customer, transaction_id="txn-p", amount=D("1.00"))

    new = _migrate(_latest())

    Installment = new.get_model("plans", "Installment")
    Payment = new.get_model("plans", "Payment")
    Refund = new.get_model("refunds", "Refund")
    rows = list(Installment.objects.filter(plan_id=plan.pk).order_by("number"))
    assert [(i.status, i.amount_paid, i.amount_refunded) for i in rows] == [
        ("PAID", D("100.00"), D("0.00")),
        ("CANCELLED", D("0.00"), D("100.00")),
        ("CANCELLED", D("0.00"), D("100.00")),
    ]
    [payment] = Payment.objects.all()
    assert (payment.amount, payment.status, payment.received_at) == (D("100.00"), "POSTED", paid_at)
    assert [a.installment_id for a in payment.allocations.all()] == [rows[0].pk]
    refund = Refund.objects.get(pk=refund.pk)
    assert (refund.amount_applied, refund.amount_to_customer) == (D("200.00"), D("50.00"))
    assert (Refund.objects.get(pk=no_plan.pk).amount_to_customer, Refund.objects.get(pk=pending.pk).amount_applied) == (
        D("5.00"),
        None,
    )
    assert new.get_model("plans", "Plan").objects.get(pk=plan.pk).status == "COMPLETED"
    assert new.get_model("customers", "Customer").objects.get(pk=customer.pk).status == "NORMAL"
    assert_ledger_consistent()


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()
