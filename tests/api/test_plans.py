"""POST /api/v1/plans/ (rule 1: no plan for a DEBT_USER) and GET /api/v1/plans/<id>/."""

import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.plans.schedule import add_months
from tests.api.conftest import assert_error, assert_iso_date, assert_iso_datetime, assert_money
from tests.factories import CustomerFactory, MerchantFactory, PlanFactory

pytestmark = pytest.mark.django_db

DEBT_MESSAGE = "Users with DEBT_USER status cannot create new BNPL plans"
PLAN_FIELDS = {
    "id",
    "user_id",
    "total_amount",
    "installment_count",
    "merchant",
    "status",
    "installments",
    "created_at",
}
INSTALLMENT_FIELDS = {
    "id",
    "number",
    "amount_due",
    "amount_paid",
    "amount_refunded",
    "amount_remaining",
    "due_date",
    "status",
    "paid_at",
}


@pytest.fixture
def customer(db):
    return CustomerFactory(customer_id="usr-plan")


def create(client, **body):
    return client.post("/api/v1/plans/", body, format="json")


class TestCreate:
    def test_creates_an_active_plan_split_in_cents_with_monthly_due_dates(self, support_client, support_user, customer):
        response = create(support_client, user_id="usr-plan", total_amount="500.00", installment_count=3)

        assert response.status_code == 201, response.content
        body = response.json()
        assert set(body) == PLAN_FIELDS
        plan = Plan.objects.get()
        assert body["id"] == str(plan.pk)
        assert body["user_id"] == "usr-plan"
        assert body["total_amount"] == "500.00"
        assert body["installment_count"] == 3
        assert body["status"] == "ACTIVE"
        assert_iso_datetime(body["created_at"])
        today = timezone.localdate()
        assert [i["number"] for i in body["installments"]] == [1, 2, 3]
        assert [i["amount_due"] for i in body["installments"]] == ["166.67", "166.67", "166.66"]
        assert [i["due_date"] for i in body["installments"]] == [add_months(today, n).isoformat() for n in (1, 2, 3)]
        for item in body["installments"]:
            assert set(item) == INSTALLMENT_FIELDS
            assert item["status"] == "UPCOMING"
            assert item["paid_at"] is None
            assert (item["amount_paid"], item["amount_refunded"]) == ("0.00", "0.00")
            assert item["amount_remaining"] == item["amount_due"]
            assert_money(item["amount_due"])
            assert_iso_date(item["due_date"])
        assert {i["id"] for i in body["installments"]} == set(plan.installments.values_list("pk", flat=True))
        assert plan.created_by == support_user
        assert AuditEvent.objects.filter(action="plan.created", target_id=str(plan.pk)).count() == 1

    def test_the_answer_is_the_plan_as_read_back_without_reading_its_installments(self, support_client, customer):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            created = create(support_client, user_id="usr-plan", total_amount="500.00", installment_count=3).json()

        assert created == support_client.get(f"/api/v1/plans/{created['id']}/").json()
        reads = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
        assert not any('FROM "plans_installment"' in sql for sql in reads), reads

    def test_the_installment_count_defaults_to_three(self, support_client, customer):
        body = create(support_client, user_id="usr-plan", total_amount="100.00").json()

        assert body["installment_count"] == 3
        assert [i["amount_due"] for i in body["installments"]] == ["33.34", "33.33", "33.33"]

    @pytest.mark.parametrize(
        ("total", "count", "amounts"),
        [
            ("10", 2, ["5.00", "5.00"]),
            (100, 2, ["50.00", "50.00"]),
            ("0.05", 5, ["0.01"] * 5),
            ("1.00", 24, ["0.05"] * 4 + ["0.04"] * 20),
            ("999999999999.99", 2, ["500000000000.00", "499999999999.99"]),
        ],
    )
    def test_amounts_always_add_up_to_the_total_with_two_decimals(
        self, support_client, customer, total, count, amounts
    ):
        response = create(support_client, user_id="usr-plan", total_amount=total, installment_count=count)

        assert response.status_code == 201, response.content
        body = response.json()
        assert_money(body["total_amount"])
        assert [i["amount_due"] for i in body["installments"]] == amounts
        assert sum(Decimal(a) for a in amounts) == Decimal(body["total_amount"])

    def test_a_debt_user_gets_403_and_no_plan_is_created(self, support_client, customer):
        Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.DEBT_USER)

        response = create(support_client, user_id="usr-plan", total_amount="500.00")

        assert response.status_code == 403
        assert response.json() == {"error": DEBT_MESSAGE}
        assert not Plan.objects.exists()
        assert not Installment.objects.exists()
        assert not AuditEvent.objects.filter(action="plan.created").exists()

    def test_an_unknown_user_is_a_404_and_no_plan_is_created(self, support_client):
        assert_error(
            create(support_client, user_id="usr-ghost", total_amount="500.00"), 404, "User usr-ghost not found"
        )
        assert not Plan.objects.exists()

    @pytest.mark.parametrize(
        "total",
        [
            "10.001",
            "0.005",
            "-10.00",
            "-0.01",
            "0",
            "0.00",
            "1000000000000.00",
            "1e30",
            "NaN",
            "Infinity",
            "-Infinity",
            "abc",
            "",
            "  ",
            "1,000.00",
            None,
            True,
            False,
            [],
            ["100.00"],
            {"amount": "100.00"},
        ],
    )
    def test_an_invalid_total_amount_is_a_400_and_no_plan_is_created(self, support_client, customer, total):
        response = create(support_client, user_id="usr-plan", total_amount=total)

        body = assert_error(response, 400)
        assert "total_amount" in body["error"]
        assert not Plan.objects.exists()
        assert not Installment.objects.exists()

    @pytest.mark.parametrize("count", [0, 1, 25, -3, 100, "x", "", None, 2.5, [3], True])
    def test_an_installment_count_outside_2_to_24_is_a_400_and_no_plan_is_created(
        self, support_client, customer, count
    ):
        response = create(support_client, user_id="usr-plan", total_amount="500.00", installment_count=count)

        body = assert_error(response, 400)
        assert "installment_count" in body["error"]
        assert not Plan.objects.exists()

    def test_fewer_cents_than_installments_is_a_400(self, support_client, customer):
        response = create(support_client, user_id="usr-plan", total_amount="0.01", installment_count=2)

        assert_error(response, 400, "total_amount must be at least 0.01 per installment")
        assert not Plan.objects.exists()

    @pytest.mark.parametrize("user_id", [None, "", 7, ["usr-plan"], "x" * 65])
    def test_an_invalid_user_id_is_a_400(self, support_client, customer, user_id):
        response = create(support_client, user_id=user_id, total_amount="500.00")

        assert response.status_code in (400, 404)
        assert response.json()["error"]
        assert not Plan.objects.exists()

    def test_a_missing_total_amount_is_a_400(self, support_client, customer):
        assert_error(support_client.post("/api/v1/plans/", {"user_id": "usr-plan"}, format="json"), 400)
        assert not Plan.objects.exists()

    def test_a_plan_may_name_its_merchant_and_shows_it(self, support_client, customer):
        shop = MerchantFactory(code="shop")

        response = create(support_client, user_id="usr-plan", total_amount="500.00", merchant="shop")

        assert response.status_code == 201, response.content
        assert response.json()["merchant"] == "shop"
        assert Plan.objects.get().merchant == shop
        assert support_client.get(f"/api/v1/plans/{response.json()['id']}/").json()["merchant"] == "shop"

    def test_a_plan_without_a_merchant_shows_null(self, support_client, customer):
        response = create(support_client, user_id="usr-plan", total_amount="500.00")

        assert response.json()["merchant"] is None
        assert Plan.objects.get().merchant is None

    def test_an_unknown_merchant_is_a_400_and_no_plan_is_created(self, support_client, customer):
        body = assert_error(create(support_client, user_id="usr-plan", total_amount="500.00", merchant="nobody"), 400)

        assert "merchant" in body["error"]
        assert not Plan.objects.exists()

    def test_a_body_that_is_not_json_is_a_400(self, support_client, customer):
        assert_error(support_client.post("/api/v1/plans/", "{oops", content_type="application/json"), 400)
        assert not Plan.objects.exists()


class TestDetail:
    def test_returns_the_plan_with_its_installments_in_order(self, support_client):
        plan = PlanFactory(customer=CustomerFactory(customer_id="usr-7"), total_amount=Decimal("120.00"))

        response = support_client.get(f"/api/v1/plans/{plan.pk}/")

        assert response.status_code == 200
        body = response.json()
        assert set(body) == PLAN_FIELDS
        assert body["id"] == str(plan.pk)
        assert body["user_id"] == "usr-7"
        assert body["total_amount"] == "120.00"
        assert [i["number"] for i in body["installments"]] == [1, 2, 3]
        assert [i["amount_due"] for i in body["installments"]] == ["40.00", "40.00", "40.00"]

    def test_an_unknown_plan_is_a_json_404(self, support_client):
        missing = uuid.uuid4()

        assert_error(support_client.get(f"/api/v1/plans/{missing}/"), 404, f"Plan {missing} not found")

    @pytest.mark.parametrize("plan_id", ["not-a-uuid", "123", "null,null"])
    def test_a_malformed_plan_id_is_a_json_404_like_any_api_error(self, support_client, plan_id):
        assert_error(support_client.get(f"/api/v1/plans/{plan_id}/"), 404)
