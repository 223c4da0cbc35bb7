"""PreparedQuery: the SQL of a queryset compiled once, run with other values, rows as Django gives them."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from bnpl_admin.customers.models import Customer
from bnpl_admin.plans.models import Installment
from bnpl_admin.plans.services import check_overdue
from bnpl_admin.prepared import PreparedQuery
from tests.factories import CustomerFactory, PlanFactory

pytestmark = pytest.mark.django_db


def _installments_of(customer_id):
    return (
        Installment.objects.filter(customer__customer_id=customer_id)
        .order_by("due_date", "id")
        .values_list("id", "plan_id", "amount_due", "due_date", "paid_at", "status")
    )


def test_rows_are_the_querysets_for_each_value():
    start = timezone.localdate() - datetime.timedelta(days=70)
    PlanFactory(customer=CustomerFactory(customer_id="usr-a"), start_date=start, total_amount=Decimal("100.00"))
    PlanFactory(customer=CustomerFactory(customer_id="usr-b"), total_amount=Decimal("90.01"))
    check_overdue()
    prepared = PreparedQuery(_installments_of, values=1)

    for customer_id in ("usr-a", "usr-b", "usr-none"):
        assert prepared.rows(customer_id) == list(_installments_of(customer_id))
    assert len(prepared.rows("usr-a")) == 3 and isinstance(prepared.rows("usr-b")[0][2], Decimal)


def test_two_values_each_reach_their_own_parameter():
    CustomerFactory(customer_id="usr-a", full_name="Aziz")
    CustomerFactory(customer_id="usr-b", full_name="Bobur")

    def named(customer_id, name):
        return Customer.objects.filter(customer_id=customer_id, full_name=name).values_list("customer_id")

    prepared = PreparedQuery(named, values=2)

    assert prepared.rows("usr-a", "Aziz") == [("usr-a",)]
    assert prepared.rows("usr-b", "Aziz") == []
    assert prepared.rows("usr-b", "Bobur") == [("usr-b",)]


def test_a_queryset_that_loses_a_value_or_returns_models_is_refused():
    with pytest.raises(ValueError, match="placeholder"):
        PreparedQuery(lambda value: Customer.objects.values_list("customer_id"), values=1).rows("x")
    with pytest.raises(ValueError, match="values_list"):
        PreparedQuery(lambda value: Customer.objects.filter(customer_id=value), values=1).rows("x")


def test_instances_are_the_models_the_orm_loads():
    from bnpl_admin.prepared import every_column

    CustomerFactory(customer_id="usr-a", date_of_birth=datetime.date(1990, 1, 2))
    prepared = PreparedQuery(
        lambda customer_id: Customer.objects.filter(customer_id=customer_id).values_list(*every_column(Customer)),
        values=1,
    )

    [loaded] = prepared.instances("usr-a")
    expected = Customer.objects.get(customer_id="usr-a")

    assert {f: getattr(loaded, f) for f in every_column(Customer)} == {
        f: getattr(expected, f) for f in every_column(Customer)
    }
    assert not loaded._state.adding and prepared.instances("usr-none") == []
    keyless = PreparedQuery(lambda c: Customer.objects.filter(customer_id=c).values_list("customer_id"), values=1)
    with pytest.raises(ValueError, match="every column"):
        keyless.instances("usr-a")
    out_of_order = PreparedQuery(lambda c: Customer.objects.filter(customer_id=c).values_list("status", "id"), values=1)
    with pytest.raises(ValueError, match="every column"):
        out_of_order.instances("usr-a")


def test_instances_of_some_columns_are_the_models_only_loads():
    from bnpl_admin.prepared import columns

    CustomerFactory(customer_id="usr-a", full_name="Aziz Karimov")
    names = columns(Customer, ["status", "customer_id", "id", "full_name"])
    prepared = PreparedQuery(lambda c: Customer.objects.filter(customer_id=c).values_list(*names), values=1)

    [loaded] = prepared.instances("usr-a")
    expected = Customer.objects.only("status", "customer_id", "full_name").get(customer_id="usr-a")

    assert names == ["id", "customer_id", "full_name", "status"]
    assert loaded.get_deferred_fields() == expected.get_deferred_fields()
    assert (loaded.pk, loaded.customer_id, loaded.full_name, loaded.status) == (
        expected.pk,
        "usr-a",
        "Aziz Karimov",
        expected.status,
    )
    assert loaded.phone_masked == expected.phone_masked  # a deferred field still loads on access
