"""The profile's reads: plans with their merchants and installments, refunds and the timeline."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from bnpl_admin.customers import selectors
from bnpl_admin.plans.selectors import plans_of
from bnpl_admin.plans.services import check_overdue
from bnpl_admin.refunds.selectors import refunds_of
from tests.factories import CustomerFactory, MerchantFactory, PlanFactory, RefundFactory

pytestmark = pytest.mark.django_db


def test_plans_come_with_their_merchant_and_installments_in_order(django_assert_num_queries):
    customer = CustomerFactory()
    shop = MerchantFactory(name="Texnomart")
    PlanFactory(customer=customer, start_date=timezone.localdate() - datetime.timedelta(days=70))
    PlanFactory(customer=customer, merchant=shop, total_amount=Decimal("400.00"), installment_count=4)
    PlanFactory(merchant=MerchantFactory())  # someone else's
    check_overdue()

    with django_assert_num_queries(2):  # plans with their merchants, then their installments
        plans = plans_of(customer)
    with django_assert_num_queries(0):
        seen = [
            (plan.merchant.name if plan.merchant else None, [i.number for i in plan.installments_in_order])
            for plan in plans
        ]
        statuses = [i.status for i in plans[1].installments_in_order]

    assert seen == [("Texnomart", [1, 2, 3, 4]), (None, [1, 2, 3])]
    assert [p.pk for p in plans] == list(customer.plans.order_by("-created_at").values_list("pk", flat=True))
    assert statuses == ["OVERDUE", "OVERDUE", "UPCOMING"] and plans[1].merchant_id is None
    assert all(plan.customer is customer for plan in plans)


def test_a_plan_without_installments_is_still_listed():
    customer = CustomerFactory()
    plan = PlanFactory(customer=customer)
    plan.installments.all().delete()

    [read] = plans_of(customer)

    assert read.pk == plan.pk and read.installments_in_order == [] and read.merchant is None


def test_a_customer_without_plans_has_none(django_assert_num_queries):
    customer = CustomerFactory()

    with django_assert_num_queries(1):
        assert plans_of(customer) == []


def test_refunds_and_timeline_are_the_customers_own_newest_first():
    from bnpl_admin.audit.services import Actor, record
    from bnpl_admin.refunds.models import Refund

    customer, other = CustomerFactory(), CustomerFactory()
    for n in range(3):
        RefundFactory(customer=customer, transaction_id=f"txn-{n}")
        record(
            actor=Actor.system("test"),
            action=f"step.{n}",
            target_type="t",
            target_id=n,
            customer_ref=customer.customer_id,
        )
    RefundFactory(customer=other, transaction_id="txn-other")
    record(actor=Actor.system("test"), action="other", target_type="t", target_id=9, customer_ref=other.customer_id)

    refunds = refunds_of(customer)
    events = selectors.timeline(customer)

    assert {r.pk for r in refunds} == set(Refund.objects.filter(customer=customer).values_list("pk", flat=True))
    assert [r.created_at for r in refunds] == sorted((r.created_at for r in refunds), reverse=True)
    assert [e.action for e in events] == ["step.2", "step.1", "step.0"]
    assert [e.action for e in selectors.timeline(customer, limit=1)] == ["step.2"]


@pytest.mark.parametrize("customer_id", ["usr-\x00", "usr-\ud800"])
def test_an_id_no_customer_can_have_is_not_found_before_any_query(customer_id, django_assert_num_queries):
    from bnpl_admin.customers.errors import CustomerNotFound

    for read in (selectors.get_customer, selectors.debt_status):
        with django_assert_num_queries(0), pytest.raises(CustomerNotFound):
            read(customer_id)
