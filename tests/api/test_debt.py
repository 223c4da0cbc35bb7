"""GET /api/v1/debt/<customer_id>/ (debt status) and POST (repayment, all or nothing; rule 3)."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans.models import Installment, Payment, Plan
from bnpl_admin.plans.services import check_overdue
from tests.api.conftest import assert_error, assert_iso_date, assert_money
from tests.factories import CustomerFactory, PlanFactory

pytestmark = pytest.mark.django_db

D = Decimal
PAID, UPCOMING, OVERDUE = Installment.Status.PAID, Installment.Status.UPCOMING, Installment.Status.OVERDUE
REPAID = "Repayment processed successfully"


def days_ago(days: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=days)


@pytest.fixture
def debtor(db):
    """A DEBT_USER: a 500.00 plan started 70 days ago (#1 and #2 OVERDUE, #3 UPCOMING)."""
    customer = CustomerFactory(customer_id="usr-debt")
    plan = PlanFactory(customer=customer, total_amount=D("500.00"), start_date=days_ago(70))
    check_overdue(actor=Actor.system("test"))
    customer.refresh_from_db()
    assert customer.status == Customer.Status.DEBT_USER
    return customer, plan, list(plan.installments.order_by("number"))


def assert_repaid(response, *, paid: int, user_status: str, installments) -> Payment:
    """The contract's answer, naming the one Payment recorded: of exactly these installments'
    remaining amounts (rule 6)."""
    assert response.status_code == 200, response.content
    body = response.json()
    payment = Payment.objects.get(pk=body["payment_id"])
    assert body == {
        "message": REPAID,
        "paid_installments": paid,
        "user_status": user_status,
        "payment_id": str(payment.pk),
    }
    allocations = sorted(payment.allocations.values_list("installment_id", "amount"))
    assert allocations == sorted((i.pk, i.amount_remaining) for i in installments)
    assert payment.amount == sum(i.amount_remaining for i in installments)
    assert payment.status == Payment.Status.POSTED
    return payment


def statuses(plan) -> list[str]:
    return list(plan.installments.order_by("number").values_list("status", flat=True))


def pay(client, customer_id, ids, **extra):
    return client.post(f"/api/v1/debt/{customer_id}/", {"installment_ids": ids}, format="json", **extra)


class TestDebtStatus:
    def test_a_customer_with_overdue_installments_gets_each_with_its_days_overdue(self, support_client, debtor):
        _customer, plan, (first, second, _third) = debtor

        response = support_client.get("/api/v1/debt/usr-debt/")

        assert response.status_code == 200
        body = response.json()
        assert set(body) == {
            "user_id",
            "has_overdue",
            "total_debt",
            "overdue_installments",
            "total_overdue_count",
            "user_status",
        }
        assert body["user_id"] == "usr-debt"
        assert body["has_overdue"] is True
        assert body["total_debt"] == "333.34"
        assert body["total_overdue_count"] == 2
        assert body["user_status"] == "DEBT_USER"
        assert body["overdue_installments"] == [
            {
                "id": installment.pk,
                "plan_id": str(plan.pk),
                "amount_due": "166.67",
                "amount_paid": "0.00",
                "amount_refunded": "0.00",
                "amount_remaining": "166.67",
                "due_date": installment.due_date.isoformat(),
                "days_overdue": (timezone.localdate() - installment.due_date).days,
            }
            for installment in (first, second)
        ]
        for item in body["overdue_installments"]:
            assert_money(item["amount_due"])
            assert_iso_date(item["due_date"])
            assert item["days_overdue"] > 0

    def test_a_customer_without_debt_has_a_zero_total_with_two_decimals(self, support_client):
        PlanFactory(customer=CustomerFactory(customer_id="usr-ok"))

        assert support_client.get("/api/v1/debt/usr-ok/").json() == {
            "user_id": "usr-ok",
            "has_overdue": False,
            "total_debt": "0.00",
            "overdue_installments": [],
            "total_overdue_count": 0,
            "user_status": "NORMAL",
        }

    def test_only_overdue_installments_count_as_debt(self, support_client):
        customer = CustomerFactory(customer_id="usr-two-plans")
        PlanFactory(customer=customer, total_amount=D("100.00"), installment_count=2, start_date=days_ago(40))
        PlanFactory(customer=customer, total_amount=D("90.00"))  # all UPCOMING
        check_overdue(actor=Actor.system("test"))

        body = support_client.get("/api/v1/debt/usr-two-plans/").json()

        assert body["total_overdue_count"] == 1
        assert body["total_debt"] == "50.00"
        assert body["user_status"] == "DEBT_USER"

    def test_an_unknown_customer_is_a_json_404(self, support_client):
        assert_error(support_client.get("/api/v1/debt/usr-nobody/"), 404, "User usr-nobody not found")


class TestRepayment:
    def test_paying_every_overdue_installment_returns_the_customer_to_normal(self, support_client, debtor):
        customer, plan, (first, second, _third) = debtor

        response = pay(support_client, "usr-debt", [first.pk, second.pk])

        assert_repaid(response, paid=2, user_status="NORMAL", installments=[first, second])
        assert statuses(plan) == [PAID, PAID, UPCOMING]
        customer.refresh_from_db()
        assert customer.status == Customer.Status.NORMAL
        [event] = AuditEvent.objects.filter(
            action="customer.status_changed", customer_ref="usr-debt", data__to="NORMAL"
        )
        assert event.data["from"] == "DEBT_USER"
        assert support_client.get("/api/v1/debt/usr-debt/").json()["has_overdue"] is False

    def test_paying_one_of_two_overdue_installments_leaves_the_customer_in_debt(self, support_client, debtor):
        customer, plan, (first, _second, _third) = debtor

        response = pay(support_client, "usr-debt", [first.pk])

        assert_repaid(response, paid=1, user_status="DEBT_USER", installments=[first])
        assert statuses(plan) == [PAID, OVERDUE, UPCOMING]
        customer.refresh_from_db()
        assert customer.status == Customer.Status.DEBT_USER

    def test_an_upcoming_installment_can_be_paid_early(self, support_client):
        plan = PlanFactory(customer=CustomerFactory(customer_id="usr-early"))
        first = plan.installments.get(number=1)

        response = pay(support_client, "usr-early", [first.pk])

        assert_repaid(response, paid=1, user_status="NORMAL", installments=[first])
        first.refresh_from_db()
        assert first.status == PAID
        assert first.paid_at is not None

    def test_paying_the_last_installments_completes_the_plan(self, support_client, debtor):
        _customer, plan, installments = debtor

        response = pay(support_client, "usr-debt", [i.pk for i in installments])

        assert_repaid(response, paid=3, user_status="NORMAL", installments=installments)
        plan.refresh_from_db()
        assert plan.status == Plan.Status.COMPLETED
        detail = support_client.get(f"/api/v1/plans/{plan.pk}/").json()
        assert detail["status"] == "COMPLETED"
        assert all(i["status"] == "PAID" and i["paid_at"] for i in detail["installments"])

    def test_the_same_id_twice_in_one_request_is_paid_once(self, support_client, debtor):
        _customer, plan, (first, _second, _third) = debtor

        response = pay(support_client, "usr-debt", [first.pk, first.pk])

        assert_repaid(response, paid=1, user_status="DEBT_USER", installments=[first])
        assert statuses(plan) == [PAID, OVERDUE, UPCOMING]

    def test_an_installment_of_another_customer_is_a_400_and_nothing_is_paid(self, support_client, debtor):
        _customer, plan, (first, _second, _third) = debtor
        other = PlanFactory(customer=CustomerFactory(customer_id="usr-other"))
        foreign = other.installments.get(number=1)

        response = pay(support_client, "usr-debt", [first.pk, foreign.pk])

        body = assert_error(response, 400)
        assert str(foreign.pk) in body["error"]
        assert statuses(plan) == [OVERDUE, OVERDUE, UPCOMING]
        assert statuses(other) == [UPCOMING, UPCOMING, UPCOMING]
        assert not AuditEvent.objects.filter(action="payment.recorded").exists()

    def test_an_already_paid_installment_is_a_400_and_nothing_else_is_paid(self, support_client, debtor):
        customer, plan, (first, second, _third) = debtor
        pay(support_client, "usr-debt", [first.pk])

        response = pay(support_client, "usr-debt", [second.pk, first.pk])

        body = assert_error(response, 400)
        assert str(first.pk) in body["error"]
        assert statuses(plan) == [PAID, OVERDUE, UPCOMING]
        customer.refresh_from_db()
        assert customer.status == Customer.Status.DEBT_USER
        assert AuditEvent.objects.filter(action="payment.recorded").count() == 1

    def test_an_id_that_does_not_exist_is_a_400_and_nothing_is_paid(self, support_client, debtor):
        _customer, plan, (first, _second, _third) = debtor

        response = pay(support_client, "usr-debt", [first.pk, 987654])

        assert_error(response, 400)
        assert statuses(plan) == [OVERDUE, OVERDUE, UPCOMING]

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"installment_ids": []},
            {"installment_ids": "1"},
            {"installment_ids": 1},
            {"installment_ids": None},
            {"installment_ids": [0]},
            {"installment_ids": [-1]},
            {"installment_ids": [1.5]},
            {"installment_ids": ["abc"]},
            {"installment_ids": [None]},
            {"installment_ids": [[1]]},
            {"installment_ids": [{"id": 1}]},
            {"installment_ids": list(range(1, 502))},
        ],
        ids=[
            "missing",
            "empty",
            "string",
            "number",
            "null",
            "zero",
            "negative",
            "fraction",
            "word",
            "null-id",
            "nested-list",
            "object",
            "too-many",
        ],
    )
    def test_a_malformed_body_is_a_400_and_nothing_is_paid(self, support_client, debtor, body):
        _customer, plan, _ = debtor

        response = support_client.post("/api/v1/debt/usr-debt/", body, format="json")

        assert_error(response, 400)
        assert statuses(plan) == [OVERDUE, OVERDUE, UPCOMING]

    @pytest.mark.parametrize("huge", [2**63, 10**30], ids=["2**63", "10**30"])
    def test_an_id_too_large_for_the_database_is_a_400_not_a_500(self, support_client, debtor, huge):
        _customer, plan, (first, _second, _third) = debtor
        support_client.raise_request_exception = False

        response = pay(support_client, "usr-debt", [first.pk, huge])

        assert_error(response, 400)
        assert statuses(plan) == [OVERDUE, OVERDUE, UPCOMING]

    def test_a_true_is_not_taken_for_installment_one(self, support_client):
        plan = PlanFactory(customer=CustomerFactory(customer_id="usr-bool"))

        response = pay(support_client, "usr-bool", [True])

        assert_error(response, 400)
        assert statuses(plan) == [UPCOMING, UPCOMING, UPCOMING]

    def test_an_unknown_customer_is_a_404_and_nothing_is_paid(self, support_client, debtor):
        _customer, plan, (first, _second, _third) = debtor

        assert_error(pay(support_client, "usr-nobody", [first.pk]), 404, "User usr-nobody not found")
        assert statuses(plan) == [OVERDUE, OVERDUE, UPCOMING]
