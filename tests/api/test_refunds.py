"""POST /api/v1/refunds/ (rule 4: idempotent by transaction_id), GET /api/v1/refunds/<id>/, and
POST /api/v1/refunds/<id>/cancel/ (PENDING -> REJECTED "Cancelled by staff")."""

import uuid
from decimal import Decimal

import pytest

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.refunds.models import Refund
from tests.api.conftest import assert_error, assert_iso_datetime, assert_money
from tests.factories import CustomerFactory, MerchantFactory, PlanFactory, RefundFactory

pytestmark = pytest.mark.django_db

D = Decimal
REFUND_FIELDS = {
    "id",
    "user_id",
    "plan_id",
    "merchant",
    "transaction_id",
    "amount",
    "reason",
    "status",
    "merchant_reference",
    "amount_applied",
    "amount_to_customer",
    "processed_at",
    "created_at",
}
ONLY_PENDING = "Only PENDING refunds can be cancelled"


@pytest.fixture
def customer(db):
    return CustomerFactory(customer_id="usr-r")


def issue(client, **body):
    body = {"user_id": "usr-r", "transaction_id": "txn-1", "amount": "150.00", **body}
    return client.post("/api/v1/refunds/", body, format="json")


class TestIssue:
    def test_a_new_transaction_is_a_201_with_a_pending_refund(self, support_client, support_user, customer):
        response = issue(support_client, reason="Damaged on arrival")

        assert response.status_code == 201, response.content
        body = response.json()
        assert set(body) == REFUND_FIELDS
        refund = Refund.objects.get()
        assert body == {
            "id": str(refund.pk),
            "user_id": "usr-r",
            "plan_id": None,
            "merchant": None,
            "transaction_id": "txn-1",
            "amount": "150.00",
            "reason": "Damaged on arrival",
            "status": "PENDING",
            "merchant_reference": "",
            "amount_applied": None,
            "amount_to_customer": None,
            "processed_at": None,
            "created_at": body["created_at"],
        }
        assert_iso_datetime(body["created_at"])
        assert refund.created_by == support_user
        assert AuditEvent.objects.filter(action="refund.issued", target_id=str(refund.pk)).count() == 1

    def test_a_refund_on_a_plan_names_the_plan(self, support_client, customer):
        plan = PlanFactory(customer=customer, total_amount=D("500.00"))

        response = issue(support_client, plan_id=str(plan.pk), amount="500.00")

        assert response.status_code == 201, response.content
        assert response.json()["plan_id"] == str(plan.pk)
        assert Refund.objects.get().plan == plan

    @pytest.mark.parametrize("amount", ["150.00", "150", "150.0", 150])
    def test_the_same_transaction_user_and_amount_again_is_a_200_with_the_same_refund(
        self, support_client, customer, amount
    ):
        first = issue(support_client).json()

        again = issue(support_client, amount=amount)

        assert again.status_code == 200, again.content
        assert again.json() == first
        assert Refund.objects.count() == 1
        assert AuditEvent.objects.filter(action="refund.issued").count() == 1

    def test_the_same_transaction_with_another_amount_is_a_409_and_changes_nothing(self, support_client, customer):
        issue(support_client)

        response = issue(support_client, amount="150.01")

        assert_error(response, 409, "Transaction txn-1 was already refunded with a different user or amount")
        assert list(Refund.objects.values_list("amount", flat=True)) == [D("150.00")]

    def test_the_same_transaction_for_another_user_is_a_409_and_changes_nothing(self, support_client, customer):
        CustomerFactory(customer_id="usr-other")
        issue(support_client)

        assert_error(issue(support_client, user_id="usr-other"), 409)
        assert Refund.objects.get().customer == customer

    def test_an_unknown_user_is_a_404(self, support_client):
        assert_error(issue(support_client, user_id="usr-ghost"), 404, "User usr-ghost not found")
        assert not Refund.objects.exists()

    def test_more_than_the_plan_still_allows_is_a_400_and_creates_nothing(self, support_client, customer):
        plan = PlanFactory(customer=customer, total_amount=D("500.00"))
        assert issue(support_client, plan_id=str(plan.pk), amount="400.00").status_code == 201

        response = issue(support_client, transaction_id="txn-2", plan_id=str(plan.pk), amount="100.01")

        body = assert_error(response, 400)
        assert "100.00" in body["error"]
        assert Refund.objects.count() == 1
        assert issue(support_client, transaction_id="txn-3", plan_id=str(plan.pk), amount="100.00").status_code == 201

    def test_a_rejected_refund_no_longer_counts_against_the_plan(self, support_client, customer):
        plan = PlanFactory(customer=customer, total_amount=D("500.00"))
        RefundFactory(customer=customer, plan=plan, amount=D("500.00"), status=Refund.Status.REJECTED)

        assert issue(support_client, plan_id=str(plan.pk), amount="500.00").status_code == 201

    def test_a_plan_of_another_customer_is_a_400(self, support_client, customer):
        plan = PlanFactory(customer=CustomerFactory(customer_id="usr-other"))

        assert_error(issue(support_client, plan_id=str(plan.pk), amount="10.00"), 400)
        assert not Refund.objects.exists()

    def test_an_unknown_plan_is_a_400(self, support_client, customer):
        assert_error(issue(support_client, plan_id=str(uuid.uuid4()), amount="10.00"), 400)
        assert not Refund.objects.exists()

    def test_a_refund_without_a_plan_takes_the_merchant_it_names(self, support_client, customer):
        shop = MerchantFactory(code="shop")

        response = issue(support_client, merchant="shop")

        assert response.status_code == 201, response.content
        assert response.json()["merchant"] == "shop"
        assert Refund.objects.get().merchant == shop
        assert AuditEvent.objects.get(action="refund.issued").data["merchant"] == "shop"

    def test_a_refund_on_a_plan_takes_the_plans_merchant(self, support_client, customer):
        plan = PlanFactory(customer=customer, merchant=MerchantFactory(code="shop"))

        response = issue(support_client, plan_id=str(plan.pk), amount="10.00")

        assert response.status_code == 201, response.content
        assert response.json()["merchant"] == "shop"
        assert Refund.objects.get().merchant == plan.merchant

    def test_a_refund_on_a_plan_may_name_the_plans_own_merchant(self, support_client, customer):
        plan = PlanFactory(customer=customer, merchant=MerchantFactory(code="shop"))

        response = issue(support_client, plan_id=str(plan.pk), amount="10.00", merchant="shop")

        assert response.status_code == 201, response.content
        assert Refund.objects.get().merchant == plan.merchant

    @pytest.mark.parametrize("plan_merchant", ["shop", None])
    def test_a_refund_on_a_plan_naming_another_merchant_is_a_400_and_creates_nothing(
        self, support_client, customer, plan_merchant
    ):
        plan = PlanFactory(customer=customer, merchant=MerchantFactory(code=plan_merchant) if plan_merchant else None)
        MerchantFactory(code="rival")

        body = assert_error(issue(support_client, plan_id=str(plan.pk), amount="10.00", merchant="rival"), 400)

        assert "rival" in body["error"]
        assert not Refund.objects.exists()

    @pytest.mark.parametrize("code", ["nobody", "a" * 65, "bad code", 7, ["shop"]])
    def test_a_merchant_that_does_not_exist_is_a_400_and_creates_nothing(self, support_client, customer, code):
        MerchantFactory(code="shop")

        body = assert_error(issue(support_client, merchant=code), 400)

        assert "merchant" in body["error"]
        assert not Refund.objects.exists()

    @pytest.mark.parametrize("none", [None, ""])
    def test_a_refund_without_a_plan_or_merchant_has_no_merchant(self, support_client, customer, none):
        response = issue(support_client, merchant=none)

        assert response.status_code == 201, response.content
        assert response.json()["merchant"] is None
        assert Refund.objects.get().merchant is None

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("amount", "0"),
            ("amount", "-5.00"),
            ("amount", "10.001"),
            ("amount", "1000000000000.00"),
            ("amount", "NaN"),
            ("amount", "abc"),
            ("amount", None),
            ("amount", True),
            ("amount", ["1.00"]),
            ("transaction_id", ""),
            ("transaction_id", "   "),
            ("transaction_id", "t" * 65),
            ("transaction_id", None),
            ("user_id", ""),
            ("user_id", None),
            ("reason", "r" * 501),
            ("reason", ["why"]),
            ("plan_id", "not-a-uuid"),
            ("plan_id", ["not-a-uuid"]),
        ],
    )
    def test_invalid_input_is_a_400_and_creates_nothing(self, support_client, customer, field, value):
        response = issue(support_client, **{field: value})

        body = assert_error(response, 400)
        assert field in body["error"]
        assert not Refund.objects.exists()

    @pytest.mark.parametrize("missing", ["user_id", "transaction_id", "amount"])
    def test_a_missing_required_field_is_a_400(self, support_client, customer, missing):
        body = {"user_id": "usr-r", "transaction_id": "txn-1", "amount": "150.00"}
        del body[missing]

        assert_error(support_client.post("/api/v1/refunds/", body, format="json"), 400)
        assert not Refund.objects.exists()

    def test_reason_and_plan_are_optional(self, support_client, customer):
        response = support_client.post(
            "/api/v1/refunds/", {"user_id": "usr-r", "transaction_id": "t", "amount": "1.00"}, format="json"
        )

        assert response.status_code == 201
        assert response.json()["reason"] == ""
        assert response.json()["plan_id"] is None


class TestDetail:
    def test_returns_the_refund(self, support_client, customer):
        refund = RefundFactory(customer=customer, transaction_id="txn-9", amount=D("12.50"), merchant_reference="M-1")

        response = support_client.get(f"/api/v1/refunds/{refund.pk}/")

        assert response.status_code == 200
        body = response.json()
        assert set(body) == REFUND_FIELDS
        assert body["id"] == str(refund.pk)
        assert body["user_id"] == "usr-r"
        assert body["transaction_id"] == "txn-9"
        assert body["amount"] == "12.50"
        assert body["merchant_reference"] == "M-1"
        assert body["status"] == "PENDING"
        assert_money(body["amount"])

    def test_an_unknown_refund_is_a_json_404(self, support_client):
        missing = uuid.uuid4()

        assert_error(support_client.get(f"/api/v1/refunds/{missing}/"), 404, f"Refund {missing} not found")

    @pytest.mark.parametrize("refund_id", ["not-a-uuid", "txn-1"])
    def test_a_malformed_refund_id_is_a_json_404_like_any_api_error(self, support_client, refund_id):
        assert_error(support_client.get(f"/api/v1/refunds/{refund_id}/"), 404)


class TestCancel:
    def test_a_pending_refund_becomes_rejected_cancelled_by_staff(self, support_client, support_user, customer):
        refund = RefundFactory(customer=customer)

        response = support_client.post(f"/api/v1/refunds/{refund.pk}/cancel/", {}, format="json")

        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == REFUND_FIELDS
        assert body["id"] == str(refund.pk)
        assert body["status"] == "REJECTED"
        assert body["reason"] == "Cancelled by staff"
        assert_iso_datetime(body["processed_at"])
        refund.refresh_from_db()
        assert refund.status == Refund.Status.REJECTED
        assert refund.status_detail == "Cancelled by staff"
        [cancelled] = AuditEvent.objects.filter(action="refund.cancelled", target_id=str(refund.pk))
        assert "original_reason" in cancelled.data
        [event] = AuditEvent.objects.filter(action="refund.status_changed", target_id=str(refund.pk))
        assert event.actor_user_id == support_user.pk
        assert (event.data["from"], event.data["to"]) == ("PENDING", "REJECTED")

    def test_a_reason_is_kept_beside_cancelled_by_staff(self, support_client, customer):
        refund = RefundFactory(customer=customer)

        support_client.post(f"/api/v1/refunds/{refund.pk}/cancel/", {"reason": "duplicate order"}, format="json")

        refund.refresh_from_db()
        assert refund.status_detail == "Cancelled by staff: duplicate order"

    def test_a_body_is_optional(self, support_client, customer):
        refund = RefundFactory(customer=customer)

        assert support_client.post(f"/api/v1/refunds/{refund.pk}/cancel/").status_code == 200

    @pytest.mark.parametrize("status", [Refund.Status.PROCESSING, Refund.Status.APPROVED, Refund.Status.REJECTED])
    def test_any_other_status_is_a_400_and_the_refund_stays_as_it_was(self, support_client, customer, status):
        refund = RefundFactory(customer=customer, status=status)

        response = support_client.post(f"/api/v1/refunds/{refund.pk}/cancel/", {}, format="json")

        assert response.status_code == 400
        assert response.json() == {"error": ONLY_PENDING}
        refund.refresh_from_db()
        assert refund.status == status
        assert not AuditEvent.objects.filter(action="refund.status_changed").exists()

    def test_cancelling_twice_is_a_400_the_second_time(self, support_client, customer):
        refund = RefundFactory(customer=customer)
        support_client.post(f"/api/v1/refunds/{refund.pk}/cancel/", {}, format="json")

        response = support_client.post(f"/api/v1/refunds/{refund.pk}/cancel/", {}, format="json")

        assert response.json() == {"error": ONLY_PENDING}
        assert AuditEvent.objects.filter(action="refund.status_changed").count() == 1

    def test_an_unknown_refund_is_a_json_404(self, support_client):
        missing = uuid.uuid4()

        assert_error(support_client.post(f"/api/v1/refunds/{missing}/cancel/", {}, format="json"), 404)

    def test_a_malformed_refund_id_is_a_json_404_like_any_api_error(self, support_client):
        assert_error(support_client.post("/api/v1/refunds/not-a-uuid/cancel/", {}, format="json"), 404)

    def test_a_reason_that_is_too_long_is_a_400_and_the_refund_stays_pending(self, support_client, customer):
        refund = RefundFactory(customer=customer)

        response = support_client.post(f"/api/v1/refunds/{refund.pk}/cancel/", {"reason": "r" * 301}, format="json")

        assert_error(response, 400)
        refund.refresh_from_db()
        assert refund.status == Refund.Status.PENDING
