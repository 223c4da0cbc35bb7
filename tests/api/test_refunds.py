"""POST /api/v1/refunds/ (rule 4: idempotent by transaction_id), GET /api/v1/refunds/<id>/, and
POST /api/v1/refunds/<id>/cancel/ (PENDING -> REJECTED "Cancelled by staff"); an approved refund
reduces what is owed on its plan (rule 8)."""

import uuid
from decimal import Decimal

import pytest

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.refunds import services as refund_services
from bnpl_admin.refunds.models import Refund
from tests.api.conftest import assert_error, assert_iso_datetime, assert_money
from tests.factories import CustomerFactory, MerchantFactory, PlanFactory, RefundFactory
from tests.ledger.invariants import assert_ledger_consistent

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

    def test_the_reason_it_was_issued_with_is_kept_under_the_contracts_wording(self, support_client, customer):
        refund = RefundFactory(customer=customer, reason="Item arrived broken")

        body = support_client.post(f"/api/v1/refunds/{refund.pk}/cancel/", {}, format="json").json()

        refund.refresh_from_db()
        assert (refund.reason, refund.cancelled_by_staff) == ("Item arrived broken", True)
        assert body["reason"] == "Cancelled by staff"
        assert support_client.get(f"/api/v1/refunds/{refund.pk}/").json()["reason"] == "Cancelled by staff"

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


class TestApprovedRefundsReduceWhatIsOwed:
    """The worked example through the API: a 300.00 plan in 3 (100.00 each) with #1 paid. A
    150.00 refund approved leaves #3 at 0.00 (CANCELLED) and 50.00 remaining on #2; a further
    150.00 refund approved leaves nothing remaining, the plan CANCELLED and 100.00 owed back."""

    @pytest.fixture
    def shop(self, db):
        return MerchantFactory(code="shop")

    @pytest.fixture
    def plan_first_paid(self, support_client, customer, shop) -> str:
        created = support_client.post(
            "/api/v1/plans/", {"user_id": "usr-r", "total_amount": "300.00", "merchant": "shop"}, format="json"
        )
        assert created.status_code == 201, created.content
        paid = support_client.post(
            "/api/v1/payments/", {"user_id": "usr-r", "amount": "100.00", "reference": "pay-1"}, format="json"
        )
        assert paid.status_code == 201, paid.content
        assert [a["number"] for a in paid.json()["allocations"]] == [1]
        return created.json()["id"]

    def approve(self, refund_id: str, shop) -> None:
        """As the webhook task does for the merchant's `approved` event."""
        update = refund_services.apply_merchant_status(
            refund_ref=refund_id, status="approved", merchant=shop, actor=Actor.merchant(shop)
        )
        assert update.applied

    def issue_and_approve(self, client, plan_id: str, transaction_id: str, shop) -> dict:
        issued = issue(client, transaction_id=transaction_id, amount="150.00", plan_id=plan_id)
        assert issued.status_code == 201, issued.content
        assert (issued.json()["amount_applied"], issued.json()["amount_to_customer"]) == (None, None)
        self.approve(issued.json()["id"], shop)
        return issued.json()

    def test_a_150_refund_comes_off_the_last_installments(self, support_client, plan_first_paid, shop):
        refund = self.issue_and_approve(support_client, plan_first_paid, "txn-a", shop)

        plan = support_client.get(f"/api/v1/plans/{plan_first_paid}/").json()
        assert plan["status"] == "ACTIVE"
        assert [
            (i["number"], i["status"], i["amount_paid"], i["amount_refunded"], i["amount_remaining"])
            for i in plan["installments"]
        ] == [
            (1, "PAID", "100.00", "0.00", "0.00"),
            (2, "UPCOMING", "0.00", "50.00", "50.00"),
            (3, "CANCELLED", "0.00", "100.00", "0.00"),
        ]
        shown = support_client.get(f"/api/v1/refunds/{refund['id']}/").json()
        assert (shown["status"], shown["amount_applied"], shown["amount_to_customer"]) == ("APPROVED", "150.00", "0.00")
        rows = list(
            Installment.objects.filter(plan_id=plan_first_paid)
            .order_by("number")
            .values_list("status", "amount_refunded", "amount_remaining")
        )
        assert rows == [
            ("PAID", D("0.00"), D("0.00")),
            ("UPCOMING", D("50.00"), D("50.00")),
            ("CANCELLED", D("100.00"), D("0.00")),
        ]
        assert Refund.objects.values_list("amount_applied", "amount_to_customer").get() == (D("150.00"), D("0.00"))
        assert_ledger_consistent()

    def test_a_further_150_refund_cancels_the_plan_and_owes_the_customer_100(
        self, support_client, plan_first_paid, shop
    ):
        self.issue_and_approve(support_client, plan_first_paid, "txn-a", shop)
        second = self.issue_and_approve(support_client, plan_first_paid, "txn-b", shop)

        plan = support_client.get(f"/api/v1/plans/{plan_first_paid}/").json()
        assert plan["status"] == "CANCELLED"
        assert [i["amount_remaining"] for i in plan["installments"]] == ["0.00", "0.00", "0.00"]
        assert [i["status"] for i in plan["installments"]] == ["PAID", "CANCELLED", "CANCELLED"]
        shown = support_client.get(f"/api/v1/refunds/{second['id']}/").json()
        assert (shown["status"], shown["amount_applied"], shown["amount_to_customer"]) == (
            "APPROVED",
            "50.00",
            "100.00",
        )
        assert Plan.objects.get(pk=plan_first_paid).status == Plan.Status.CANCELLED
        assert Refund.objects.get(pk=second["id"]).amount_to_customer == D("100.00")
        debt = support_client.get("/api/v1/debt/usr-r/").json()
        assert (debt["total_debt"], debt["user_status"]) == ("0.00", "NORMAL")
        assert_ledger_consistent()

    def test_a_replayed_approval_moves_nothing_twice(self, support_client, plan_first_paid, shop):
        refund = self.issue_and_approve(support_client, plan_first_paid, "txn-a", shop)

        again = refund_services.apply_merchant_status(
            refund_ref=refund["id"], status="approved", merchant=shop, actor=Actor.merchant(shop)
        )

        assert not again.applied
        remaining = [
            i["amount_remaining"]
            for i in support_client.get(f"/api/v1/plans/{plan_first_paid}/").json()["installments"]
        ]
        assert remaining == ["0.00", "50.00", "0.00"]

    def test_a_refund_without_a_plan_is_all_owed_to_the_customer(self, support_client, customer, shop):
        issued = issue(support_client, transaction_id="txn-np", amount="40.00", merchant="shop").json()
        self.approve(issued["id"], shop)

        shown = support_client.get(f"/api/v1/refunds/{issued['id']}/").json()

        assert (shown["amount_applied"], shown["amount_to_customer"]) == ("0.00", "40.00")
