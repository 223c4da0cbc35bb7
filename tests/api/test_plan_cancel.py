"""POST /api/v1/plans/<id>/cancel/ (rule 9): a plan without a POSTED payment is written off."""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans import ledger
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.plans.services import check_overdue
from tests.api.conftest import assert_error, ledger_rows
from tests.factories import CustomerFactory, PlanFactory, RefundFactory
from tests.ledger.invariants import assert_ledger_consistent

pytestmark = pytest.mark.django_db

D = Decimal
ONLY_UNPAID = "Only plans without payments can be cancelled; issue a refund instead"
PLAN_FIELDS = {"id", "user_id", "total_amount", "installment_count", "merchant", "status", "installments", "created_at"}


@pytest.fixture
def customer(db):
    return CustomerFactory(customer_id="usr-c")


@pytest.fixture
def plan(customer):
    return PlanFactory(customer=customer, total_amount=D("300.00"))


def cancel(client, plan_id, reason="Order never shipped", headers=None):
    return client.post(f"/api/v1/plans/{plan_id}/cancel/", {"reason": reason}, format="json", headers=headers)


def pay_first(plan):
    first = plan.installments.get(number=1)
    return ledger.pay_installments(installment_ids=[first.pk], actor=Actor.system("test")).payment


class TestCancel:
    def test_a_plan_without_payments_becomes_cancelled_with_its_installments(self, support_client, support_user, plan):
        response = cancel(support_client, plan.pk)

        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == PLAN_FIELDS
        assert (body["id"], body["user_id"], body["status"]) == (str(plan.pk), "usr-c", "CANCELLED")
        assert [
            (i["status"], i["amount_paid"], i["amount_refunded"], i["amount_remaining"]) for i in body["installments"]
        ] == [("CANCELLED", "0.00", "100.00", "0.00")] * 3
        assert Plan.objects.get(pk=plan.pk).status == Plan.Status.CANCELLED
        assert (
            list(plan.installments.order_by("number").values_list("status", "amount_remaining"))
            == [(Installment.Status.CANCELLED, D("0.00"))] * 3
        )
        [event] = AuditEvent.objects.filter(action="plan.cancelled", target_id=str(plan.pk))
        assert event.data["reason"] == "Order never shipped"
        assert event.actor_user_id == support_user.pk
        assert support_client.get(f"/api/v1/plans/{plan.pk}/").json() == body
        assert_ledger_consistent()

    def test_cancelling_the_only_overdue_plan_returns_the_user_to_normal(self, risk_client):
        customer = CustomerFactory(customer_id="usr-late")
        late = PlanFactory(customer=customer, start_date=timezone.localdate() - datetime.timedelta(days=40))
        check_overdue(actor=Actor.system("test"))
        assert Customer.objects.get(pk=customer.pk).status == Customer.Status.DEBT_USER

        response = cancel(risk_client, late.pk)

        assert response.status_code == 200, response.content
        assert Customer.objects.get(pk=customer.pk).status == Customer.Status.NORMAL
        assert risk_client.get("/api/v1/debt/usr-late/").json()["user_status"] == "NORMAL"

    def test_a_plan_whose_only_payment_was_reversed_may_be_cancelled(self, risk_client, plan):
        payment = pay_first(plan)
        ledger.reverse_payment(payment_id=payment.pk, reason="Bounced", actor=Actor.system("test"))

        response = cancel(risk_client, plan.pk)

        assert response.status_code == 200, response.content
        assert Plan.objects.get(pk=plan.pk).status == Plan.Status.CANCELLED
        assert_ledger_consistent()

    def test_an_idempotency_key_replay_answers_the_first_cancellation(self, support_client, plan):
        first = cancel(support_client, plan.pk, headers={"Idempotency-Key": "cancel-1"})
        assert first.status_code == 200

        again = cancel(support_client, plan.pk, headers={"Idempotency-Key": "cancel-1"})

        assert again.status_code == 200
        assert again["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        assert AuditEvent.objects.filter(action="plan.cancelled").count() == 1


class TestRefusals:
    def test_a_plan_with_a_payment_is_a_400_and_changes_nothing(self, support_client, plan):
        pay_first(plan)
        before = ledger_rows()

        assert_error(cancel(support_client, plan.pk), 400, ONLY_UNPAID)
        assert ledger_rows() == before
        assert Plan.objects.get(pk=plan.pk).status == Plan.Status.ACTIVE

    def test_a_cancelled_plan_is_a_400_the_second_time(self, support_client, plan):
        assert cancel(support_client, plan.pk).status_code == 200
        before = ledger_rows()

        assert_error(cancel(support_client, plan.pk), 400, "Plan is already cancelled")
        assert ledger_rows() == before
        assert AuditEvent.objects.filter(action="plan.cancelled").count() == 1

    def test_a_plan_with_a_refund_in_progress_is_a_400(self, support_client, customer, plan):
        RefundFactory(customer=customer, plan=plan, amount=D("50.00"))
        before = ledger_rows()

        assert_error(
            cancel(support_client, plan.pk),
            400,
            "Plan has a refund in progress; cancel it or wait for the merchant first",
        )
        assert ledger_rows() == before

    def test_an_unknown_plan_is_a_404(self, support_client, plan):
        missing = uuid.uuid4()
        before = ledger_rows()

        assert_error(cancel(support_client, missing), 404, f"Plan {missing} not found")
        assert ledger_rows() == before

    @pytest.mark.parametrize("plan_id", ["not-a-uuid", "123"])
    def test_a_malformed_plan_id_is_a_json_404(self, support_client, plan_id):
        assert_error(cancel(support_client, plan_id), 404)

    @pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "  "}, {"reason": None}, {"reason": "r" * 501}])
    def test_a_reason_is_required_400_and_nothing_changes(self, support_client, plan, body):
        before = ledger_rows()

        response = support_client.post(f"/api/v1/plans/{plan.pk}/cancel/", body, format="json")

        assert assert_error(response, 400)["error"].startswith("reason: ")
        assert ledger_rows() == before

    def test_a_role_without_cancel_plan_is_a_403(self, roleless_client, plan):
        before = ledger_rows()

        assert_error(cancel(roleless_client, plan.pk), 403, "Your role does not allow this")
        assert ledger_rows() == before

    def test_no_token_is_a_401(self, anonymous_client, plan):
        before = ledger_rows()

        assert_error(cancel(anonymous_client, plan.pk), 401)
        assert ledger_rows() == before
