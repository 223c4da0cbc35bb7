"""refunds.services: idempotent issue_refund (rule 4), cancel_refund, the merchant state machine (rule 5)."""

import uuid
from decimal import Decimal

import pytest

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers.errors import CustomerNotFound
from bnpl_admin.refunds.errors import (
    IllegalTransition,
    InvalidRefund,
    RefundConflict,
    RefundLimitExceeded,
    RefundNotFound,
)
from bnpl_admin.refunds.models import Refund
from bnpl_admin.refunds.services import apply_merchant_status, cancel_refund, issue_refund
from tests.factories import CustomerFactory, MerchantFactory, PlanFactory, RefundFactory

pytestmark = pytest.mark.django_db

D = Decimal
PENDING, PROCESSING, APPROVED, REJECTED = (
    Refund.Status.PENDING,
    Refund.Status.PROCESSING,
    Refund.Status.APPROVED,
    Refund.Status.REJECTED,
)


@pytest.fixture
def merchant_actor(db):
    return Actor.merchant(MerchantFactory(code="shop"))


class TestIssueRefund:
    def test_a_new_transaction_creates_a_pending_refund_and_audits_it(self, actor, customer, audit_events):
        issued = issue_refund(
            customer_id=customer.customer_id,
            transaction_id=" txn-1 ",
            amount="150.00",
            reason=" damaged ",
            merchant_reference="M-9",
            actor=actor,
        )

        assert issued.created is True
        refund = Refund.objects.get()
        assert refund.pk == issued.refund.pk
        assert refund.customer == customer
        assert refund.plan is None
        assert refund.transaction_id == "txn-1"
        assert refund.amount == D("150.00")
        assert refund.reason == "damaged"
        assert refund.merchant_reference == "M-9"
        assert refund.status == PENDING
        assert refund.processed_at is None
        assert refund.created_by == actor.user
        [event] = audit_events("refund.issued")
        assert (event.target_type, event.target_id, event.customer_ref) == (
            "refund",
            str(refund.pk),
            customer.customer_id,
        )
        assert event.data == {"transaction_id": "txn-1", "amount": "150.00", "plan_id": None, "merchant": None}

    def test_the_same_request_again_returns_the_existing_refund(self, actor, customer, audit_events):
        first = issue_refund(customer_id=customer.customer_id, transaction_id="txn-1", amount="150.00", actor=actor)

        again = issue_refund(customer_id=customer.customer_id, transaction_id="txn-1", amount=D("150"), actor=actor)

        assert again.created is False
        assert again.refund.pk == first.refund.pk
        assert Refund.objects.count() == 1
        assert len(audit_events("refund.issued")) == 1

    def test_the_same_request_returns_the_refund_whatever_its_status_now(self, actor, customer):
        refund = RefundFactory(customer=customer, transaction_id="txn-1", amount=D("10.00"), status=APPROVED)

        again = issue_refund(customer_id=customer.customer_id, transaction_id="txn-1", amount="10.00", actor=actor)

        assert (again.created, again.refund.pk, again.refund.status) == (False, refund.pk, APPROVED)

    def test_the_same_transaction_with_another_amount_is_a_conflict(self, actor, customer):
        issue_refund(customer_id=customer.customer_id, transaction_id="txn-1", amount="150.00", actor=actor)

        with pytest.raises(RefundConflict, match="txn-1"):
            issue_refund(customer_id=customer.customer_id, transaction_id="txn-1", amount="150.01", actor=actor)

        refund = Refund.objects.get()
        assert refund.amount == D("150.00")

    def test_the_same_transaction_for_another_customer_is_a_conflict(self, actor, customer):
        other = CustomerFactory()
        issue_refund(customer_id=customer.customer_id, transaction_id="txn-1", amount="150.00", actor=actor)

        with pytest.raises(RefundConflict):
            issue_refund(customer_id=other.customer_id, transaction_id="txn-1", amount="150.00", actor=actor)

        assert Refund.objects.get().customer == customer
        assert AuditEvent.objects.filter(action="refund.issued").count() == 1

    def test_a_refund_on_a_plan_counts_against_its_total(self, actor):
        plan = PlanFactory(total_amount=D("300.00"))
        cid = plan.customer.customer_id

        issue_refund(customer_id=cid, transaction_id="t1", amount="200.00", plan_id=plan.pk, actor=actor)
        last = issue_refund(customer_id=cid, transaction_id="t2", amount="100.00", plan_id=str(plan.pk), actor=actor)

        assert last.refund.plan == plan
        assert sum(plan.refunds.values_list("amount", flat=True)) == D("300.00")

    def test_an_amount_above_what_the_plan_still_allows_is_refused(self, actor):
        plan = PlanFactory(total_amount=D("300.00"))
        cid = plan.customer.customer_id
        issue_refund(customer_id=cid, transaction_id="t1", amount="200.00", plan_id=plan.pk, actor=actor)

        with pytest.raises(RefundLimitExceeded, match=r"100\.00"):
            issue_refund(customer_id=cid, transaction_id="t2", amount="100.01", plan_id=plan.pk, actor=actor)

        assert list(Refund.objects.values_list("transaction_id", flat=True)) == ["t1"]

    def test_a_single_refund_above_the_plan_total_is_refused(self, actor):
        plan = PlanFactory(total_amount=D("300.00"))

        with pytest.raises(RefundLimitExceeded):
            issue_refund(
                customer_id=plan.customer.customer_id,
                transaction_id="t1",
                amount="300.01",
                plan_id=plan.pk,
                actor=actor,
            )

        assert not Refund.objects.exists()
        assert not AuditEvent.objects.filter(action="refund.issued").exists()

    def test_rejected_refunds_do_not_count_against_the_plan(self, actor):
        plan = PlanFactory(total_amount=D("300.00"))
        customer = plan.customer
        RefundFactory(customer=customer, plan=plan, amount=D("300.00"), status=REJECTED)
        RefundFactory(customer=customer, plan=plan, amount=D("100.00"), status=APPROVED)
        RefundFactory(customer=customer, plan=plan, amount=D("50.00"), status=PROCESSING)

        issued = issue_refund(
            customer_id=customer.customer_id, transaction_id="t-last", amount="150.00", plan_id=plan.pk, actor=actor
        )

        assert issued.created
        with pytest.raises(RefundLimitExceeded):
            issue_refund(
                customer_id=customer.customer_id, transaction_id="t-more", amount="0.01", plan_id=plan.pk, actor=actor
            )

    def test_a_plan_of_another_customer_is_refused(self, actor, customer):
        their_plan = PlanFactory()

        with pytest.raises(InvalidRefund, match="not found"):
            issue_refund(
                customer_id=customer.customer_id,
                transaction_id="t1",
                amount="10.00",
                plan_id=their_plan.pk,
                actor=actor,
            )

        assert not Refund.objects.exists()

    @pytest.mark.parametrize("plan_id", ["not-a-uuid", uuid.uuid4(), 12345])
    def test_an_unknown_plan_is_refused(self, actor, customer, plan_id):
        with pytest.raises(InvalidRefund):
            issue_refund(
                customer_id=customer.customer_id, transaction_id="t1", amount="10.00", plan_id=plan_id, actor=actor
            )

        assert not Refund.objects.exists()

    def test_an_unknown_customer_is_not_found(self, actor):
        with pytest.raises(CustomerNotFound):
            issue_refund(customer_id="usr-nobody", transaction_id="t1", amount="10.00", actor=actor)

        assert not Refund.objects.exists()

    @pytest.mark.parametrize(
        "amount",
        [0, "0.00", "-5.00", "10.001", "abc", "", None, "NaN", "Infinity", "1e400", "1000000000000.00", 10.5, True],
    )
    def test_invalid_amounts_are_refused_and_nothing_is_created(self, actor, customer, amount):
        with pytest.raises(InvalidRefund):
            issue_refund(customer_id=customer.customer_id, transaction_id="t1", amount=amount, actor=actor)

        assert not Refund.objects.exists()
        assert not AuditEvent.objects.filter(action="refund.issued").exists()

    @pytest.mark.parametrize("transaction_id", ["", "   ", None, "x" * 65])
    def test_invalid_transaction_ids_are_refused(self, actor, customer, transaction_id):
        with pytest.raises(InvalidRefund, match="transaction_id"):
            issue_refund(customer_id=customer.customer_id, transaction_id=transaction_id, amount="1.00", actor=actor)

        assert not Refund.objects.exists()

    def test_a_transaction_id_of_64_characters_is_accepted(self, actor, customer):
        issued = issue_refund(customer_id=customer.customer_id, transaction_id="x" * 64, amount="1.00", actor=actor)

        assert Refund.objects.get(pk=issued.refund.pk).transaction_id == "x" * 64

    def test_a_reason_over_500_characters_is_refused(self, actor, customer):
        with pytest.raises(InvalidRefund, match="reason"):
            issue_refund(
                customer_id=customer.customer_id, transaction_id="t1", amount="1.00", reason="r" * 501, actor=actor
            )

        assert not Refund.objects.exists()


class TestCancelRefund:
    def test_a_pending_refund_becomes_rejected_cancelled_by_staff(self, actor, audit_events):
        refund = RefundFactory()

        cancel_refund(refund_id=refund.pk, actor=actor, reason=" duplicate order ")

        refund.refresh_from_db()
        assert refund.status == REJECTED
        assert refund.status_detail == "Cancelled by staff: duplicate order"
        assert refund.processed_at is not None
        [event] = audit_events("refund.status_changed")
        assert event.target_id == str(refund.pk)
        assert event.actor_user == actor.user
        assert event.data["from"] == "PENDING"
        assert event.data["to"] == "REJECTED"

    def test_without_a_reason_the_detail_is_just_cancelled_by_staff(self, actor):
        refund = RefundFactory()

        cancel_refund(refund_id=str(refund.pk), actor=actor)

        refund.refresh_from_db()
        assert refund.status_detail == "Cancelled by staff"

    def test_a_refund_can_be_cancelled_by_its_transaction_id(self, actor):
        refund = RefundFactory(transaction_id="txn-cancel")

        cancel_refund(refund_id="txn-cancel", actor=actor)

        refund.refresh_from_db()
        assert refund.status == REJECTED

    @pytest.mark.parametrize("status", [PROCESSING, APPROVED, REJECTED])
    def test_only_pending_refunds_can_be_cancelled(self, actor, status):
        refund = RefundFactory(status=status, status_detail="as it was")
        before = Refund.objects.values().get(pk=refund.pk)

        with pytest.raises(IllegalTransition) as refused:
            cancel_refund(refund_id=refund.pk, actor=actor)

        assert str(refused.value) == "Only PENDING refunds can be cancelled"
        assert Refund.objects.values().get(pk=refund.pk) == before
        assert not AuditEvent.objects.filter(action="refund.status_changed").exists()

    def test_an_unknown_refund_is_not_found(self, actor):
        with pytest.raises(RefundNotFound):
            cancel_refund(refund_id=uuid.uuid4(), actor=actor)


LEGAL = [
    (PENDING, "processing", PROCESSING),
    (PENDING, "approved", APPROVED),
    (PENDING, "rejected", REJECTED),
    (PENDING, "failed", REJECTED),
    (PROCESSING, "approved", APPROVED),
    (PROCESSING, "rejected", REJECTED),
    (PROCESSING, "failed", REJECTED),
]

ILLEGAL = [
    (APPROVED, "approved"),
    (APPROVED, "rejected"),
    (APPROVED, "failed"),
    (APPROVED, "processing"),
    (REJECTED, "approved"),
    (REJECTED, "rejected"),
    (REJECTED, "failed"),
    (REJECTED, "processing"),
    (PROCESSING, "processing"),
]


class TestApplyMerchantStatus:
    @pytest.mark.parametrize(("start", "reported", "end"), LEGAL)
    def test_every_legal_transition_is_applied(self, merchant_actor, audit_events, start, reported, end):
        refund = RefundFactory(status=start)

        update = apply_merchant_status(
            refund_ref=refund.pk, status=reported, actor=merchant_actor, merchant_reference="MR-1"
        )

        assert update.applied is True
        assert update.reason == ""
        refund.refresh_from_db()
        assert refund.status == end
        assert refund.merchant_reference == "MR-1"
        assert refund.status_detail == f"Merchant reported {reported}"
        if end in (APPROVED, REJECTED):
            assert refund.processed_at is not None
        else:
            assert refund.processed_at is None
        [event] = audit_events("refund.status_changed")
        assert event.actor_kind == "merchant"
        assert event.actor_label == "merchant:shop"
        assert (event.data["from"], event.data["to"]) == (start, end)

    @pytest.mark.parametrize(("start", "reported"), ILLEGAL)
    def test_every_illegal_transition_is_reported_and_changes_nothing(self, merchant_actor, start, reported):
        refund = RefundFactory(status=start)
        before = Refund.objects.values().get(pk=refund.pk)

        update = apply_merchant_status(refund_ref=refund.pk, status=reported, actor=merchant_actor)

        assert update.applied is False
        assert update.reason
        assert Refund.objects.values().get(pk=refund.pk) == before
        assert not AuditEvent.objects.filter(action="refund.status_changed").exists()

    @pytest.mark.parametrize("start", [APPROVED, REJECTED])
    @pytest.mark.parametrize("reported", ["approved", "rejected", "failed", "processing"])
    def test_a_terminal_refund_never_changes(self, merchant_actor, start, reported):
        refund = RefundFactory(status=start)

        update = apply_merchant_status(refund_ref=refund.pk, status=reported, actor=merchant_actor)

        assert update.applied is False
        refund.refresh_from_db()
        assert refund.status == start

    def test_processing_after_approved_is_out_of_order(self, merchant_actor):
        refund = RefundFactory()
        assert apply_merchant_status(refund_ref=refund.pk, status="approved", actor=merchant_actor).applied
        processed_at = Refund.objects.get(pk=refund.pk).processed_at

        late = apply_merchant_status(refund_ref=refund.pk, status="processing", actor=merchant_actor)

        assert late.applied is False
        assert "APPROVED" in late.reason
        refund.refresh_from_db()
        assert refund.status == APPROVED
        assert refund.processed_at == processed_at

    def test_a_repeated_status_is_not_applied_twice(self, merchant_actor, audit_events):
        refund = RefundFactory()
        apply_merchant_status(refund_ref=refund.pk, status="processing", actor=merchant_actor)

        again = apply_merchant_status(refund_ref=refund.pk, status="processing", actor=merchant_actor)

        assert again.applied is False
        assert "already" in again.reason
        assert len(audit_events("refund.status_changed")) == 1

    def test_a_refund_is_found_by_its_uuid_as_text(self, merchant_actor):
        refund = RefundFactory()

        assert apply_merchant_status(refund_ref=str(refund.pk), status="approved", actor=merchant_actor).applied

    def test_a_refund_is_found_by_its_transaction_id(self, merchant_actor):
        refund = RefundFactory(transaction_id="ORDER-77")

        update = apply_merchant_status(refund_ref="ORDER-77", status="approved", actor=merchant_actor)

        assert update.applied
        assert update.refund.pk == refund.pk
        refund.refresh_from_db()
        assert refund.status == APPROVED

    def test_a_transaction_id_that_looks_like_a_uuid_is_still_found(self, merchant_actor):
        txn = str(uuid.uuid4())
        refund = RefundFactory(transaction_id=txn)

        update = apply_merchant_status(refund_ref=txn, status="rejected", actor=merchant_actor)

        assert update.refund.pk == refund.pk
        assert update.applied

    @pytest.mark.parametrize("ref", [uuid.uuid4(), "no-such-transaction", ""])
    def test_an_unknown_refund_is_not_found(self, merchant_actor, ref):
        RefundFactory()

        with pytest.raises(RefundNotFound):
            apply_merchant_status(refund_ref=ref, status="approved", actor=merchant_actor)

    @pytest.mark.parametrize("status", ["APPROVED", "refunded", "", "cancelled"])
    def test_a_status_outside_the_webhook_vocabulary_is_refused(self, merchant_actor, status):
        refund = RefundFactory()

        with pytest.raises(ValueError, match="Invalid status"):
            apply_merchant_status(refund_ref=refund.pk, status=status, actor=merchant_actor)

        refund.refresh_from_db()
        assert refund.status == PENDING
