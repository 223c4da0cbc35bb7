"""Processing stored webhook events (rule 5): exactly once, into PROCESSED, IGNORED, UNMATCHED or FAILED.

Events are received through `receive_event` as the endpoint does; processing is called directly
(`process_event`) or through the django-q2 task functions in `tasks.webhooks`.
"""

import datetime
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.refunds.models import Refund
from bnpl_admin.webhooks import services
from bnpl_admin.webhooks.models import WebhookEvent
from bnpl_admin.webhooks.services import NotReprocessable, process_event, receive_event, reprocess_event
from tasks import webhooks as webhook_tasks
from tests.factories import CustomerFactory, PlanFactory, RefundFactory
from tests.webhooks import merchant_with_secret, send

pytestmark = pytest.mark.django_db

PENDING, PROCESSING, APPROVED, REJECTED = (
    Refund.Status.PENDING,
    Refund.Status.PROCESSING,
    Refund.Status.APPROVED,
    Refund.Status.REJECTED,
)
TERMINAL = (APPROVED, REJECTED)
STAFF = Actor.system("test")


def receive(shop, refund_ref, status, *, webhook_id=None, reference="M-1") -> WebhookEvent:
    payload = {"refund_id": str(refund_ref), "status": status, "merchant_reference": reference}
    receipt = receive_event(merchant=shop.merchant, webhook_id=webhook_id or f"msg_{uuid.uuid4().hex}", payload=payload)
    assert not receipt.duplicate
    return receipt.event


def run(event) -> WebhookEvent:
    process_event(event_id=event.pk)
    event.refresh_from_db()
    return event


def snapshot(refund) -> tuple:
    refund.refresh_from_db()
    return (refund.status, refund.processed_at, refund.status_detail, refund.merchant_reference, refund.updated_at)


def processed_audits(event) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="webhook.processed", target_id=str(event.pk)))


@pytest.fixture
def queued(monkeypatch):
    """The event ids handed to `enqueue_processing` (nothing is really queued)."""
    calls: list[int] = []
    monkeypatch.setattr(services, "enqueue_processing", calls.append)
    return calls


# --- legal moves -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "reported", "end"),
    [
        (PENDING, "processing", PROCESSING),
        (PENDING, "approved", APPROVED),
        (PENDING, "rejected", REJECTED),
        (PENDING, "failed", REJECTED),
        (PROCESSING, "approved", APPROVED),
        (PROCESSING, "rejected", REJECTED),
        (PROCESSING, "failed", REJECTED),
    ],
)
def test_every_legal_move_is_applied(shop, start, reported, end, audit_events):
    refund = RefundFactory(status=start, merchant=shop.merchant)

    event = run(receive(shop, refund.transaction_id, reported, reference="M-42"))

    assert (event.status, event.detail, event.attempts, event.refund) == (
        "PROCESSED",
        f"Refund is now {end}",
        1,
        refund,
    )
    assert event.processed_at is not None
    refund.refresh_from_db()
    assert refund.status == end
    assert refund.status_detail == f"Merchant reported {reported}"
    assert refund.merchant_reference == "M-42"
    assert (refund.processed_at is not None) == (end in TERMINAL)
    [changed] = audit_events("refund.status_changed")
    assert changed.data["from"] == start and changed.data["to"] == end
    assert changed.actor_label == "merchant:shop"


def test_a_refund_goes_pending_processing_approved_through_webhooks(shop, refund):
    run(receive(shop, refund.transaction_id, "processing"))
    refund.refresh_from_db()
    assert (refund.status, refund.processed_at) == (PROCESSING, None)

    run(receive(shop, refund.transaction_id, "approved"))
    refund.refresh_from_db()
    assert refund.status == APPROVED
    assert refund.processed_at is not None


def test_failed_means_rejected(shop, refund):
    event = run(receive(shop, refund.pk, "failed"))

    refund.refresh_from_db()
    assert (event.status, refund.status) == ("PROCESSED", REJECTED)


@pytest.mark.parametrize("by", ["uuid", "transaction_id"])
def test_the_refund_is_found_by_uuid_or_transaction_id(shop, refund, by):
    ref = str(refund.pk) if by == "uuid" else refund.transaction_id

    event = run(receive(shop, ref, "approved"))

    assert (event.status, event.refund) == ("PROCESSED", refund)


def test_a_transaction_id_that_looks_like_a_uuid_still_finds_its_refund(shop):
    lookalike = str(uuid.uuid4())
    refund = RefundFactory(transaction_id=lookalike, merchant=shop.merchant)

    event = run(receive(shop, lookalike, "approved"))

    assert (event.status, event.refund) == ("PROCESSED", refund)


# --- moves the state machine forbids ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "reported", "reason"),
    [
        (APPROVED, "approved", "Refund is already APPROVED"),
        (APPROVED, "rejected", "Refund is final (APPROVED); rejected ignored"),
        (APPROVED, "failed", "Refund is final (APPROVED); failed ignored"),
        (APPROVED, "processing", "Refund is final (APPROVED); processing ignored"),
        (REJECTED, "rejected", "Refund is already REJECTED"),
        (REJECTED, "failed", "Refund is already REJECTED"),
        (REJECTED, "approved", "Refund is final (REJECTED); approved ignored"),
        (REJECTED, "processing", "Refund is final (REJECTED); processing ignored"),
        (PROCESSING, "processing", "Refund is already PROCESSING"),
    ],
)
def test_every_forbidden_move_is_ignored_with_its_reason(shop, start, reported, reason, audit_events):
    refund = RefundFactory(
        status=start, processed_at=timezone.now() if start in TERMINAL else None, merchant=shop.merchant
    )
    before = snapshot(refund)

    event = run(receive(shop, refund.transaction_id, reported))

    assert (event.status, event.detail, event.attempts, event.refund) == ("IGNORED", reason, 1, refund)
    assert event.processed_at is not None
    assert snapshot(refund) == before
    assert audit_events("refund.status_changed") == []
    [audit] = processed_audits(event)
    assert audit.data == {"status": "IGNORED", "detail": reason, "requested": reported}


def test_a_late_processing_after_approved_is_ignored(shop, refund):
    approved = receive(shop, refund.transaction_id, "approved")
    late = receive(shop, refund.transaction_id, "processing")

    assert run(approved).status == "PROCESSED"
    assert run(late).status == "IGNORED"

    refund.refresh_from_db()
    assert refund.status == APPROVED
    assert late.detail == "Refund is final (APPROVED); processing ignored"


def test_an_unknown_refund_is_unmatched_and_no_refund_is_invented(shop, refund):
    event = run(receive(shop, "TXN-NOPE", "approved"))

    assert (event.status, event.refund, event.attempts) == ("UNMATCHED", None, 1)
    assert event.detail == "No refund TXN-NOPE for this merchant"
    assert list(Refund.objects.values_list("transaction_id", "status")) == [("TXN-1", PENDING)]
    [audit] = processed_audits(event)
    assert audit.customer_ref == ""


def test_an_unknown_uuid_is_unmatched(shop, refund):
    event = run(receive(shop, uuid.uuid4(), "approved"))

    assert event.status == "UNMATCHED"
    assert Refund.objects.count() == 1


def test_a_refund_on_another_merchants_plan_is_unmatched_and_unchanged(shop, other_shop):
    plan = PlanFactory(merchant=other_shop.merchant, total_amount=Decimal("500.00"))
    refund = RefundFactory(customer=plan.customer, plan=plan, transaction_id="TXN-OTHER")
    before = snapshot(refund)

    event = run(receive(shop, "TXN-OTHER", "approved"))

    assert (event.status, event.refund) == ("UNMATCHED", None)
    assert event.detail == "No refund TXN-OTHER for this merchant"  # does not say that it exists
    assert snapshot(refund) == before


def test_a_refund_on_the_merchants_own_plan_is_updated(shop):
    plan = PlanFactory(merchant=shop.merchant, total_amount=Decimal("500.00"))
    refund = RefundFactory(customer=plan.customer, plan=plan)

    event = run(receive(shop, refund.pk, "approved"))

    assert (event.status, event.refund) == ("PROCESSED", refund)


def test_a_refund_without_a_plan_issued_for_another_merchant_is_unmatched_and_unchanged(shop, other_shop):
    refund = RefundFactory(transaction_id="TXN-OTHER", merchant=other_shop.merchant)
    before = snapshot(refund)

    event = run(receive(shop, "TXN-OTHER", "approved"))

    assert (event.status, event.refund) == ("UNMATCHED", None)
    assert event.detail == "No refund TXN-OTHER for this merchant"
    assert snapshot(refund) == before


@pytest.mark.parametrize("on_a_plan", [False, True], ids=["no plan", "plan without merchant"])
def test_a_refund_with_no_merchant_is_moved_by_no_merchant(shop, other_shop, on_a_plan):
    plan = PlanFactory(merchant=None) if on_a_plan else None
    refund = RefundFactory(
        customer=plan.customer if plan else CustomerFactory(), plan=plan, transaction_id="TXN-NOBODY"
    )
    assert refund.merchant is None
    before = snapshot(refund)

    events = [run(receive(merchant, "TXN-NOBODY", "approved")) for merchant in (shop, other_shop)]

    assert [(event.status, event.refund) for event in events] == [("UNMATCHED", None)] * 2
    assert snapshot(refund) == before


def test_a_refund_without_a_plan_issued_for_the_merchant_is_updated(shop, refund):
    assert refund.plan is None and refund.merchant == shop.merchant

    event = run(receive(shop, refund.transaction_id, "approved"))

    assert (event.status, event.refund) == ("PROCESSED", refund)
    refund.refresh_from_db()
    assert refund.status == APPROVED


# --- exactly once ------------------------------------------------------------------------------


def test_processing_an_event_twice_changes_nothing_the_second_time(shop, refund):
    event = run(receive(shop, refund.transaction_id, "approved"))
    after_first = (event.status, event.detail, event.attempts, event.processed_at)
    refund_after_first = snapshot(refund)

    again = process_event(event_id=event.pk)

    event.refresh_from_db()
    assert again.pk == event.pk
    assert (event.status, event.detail, event.attempts, event.processed_at) == after_first
    assert snapshot(refund) == refund_after_first
    assert len(processed_audits(event)) == 1
    assert AuditEvent.objects.filter(action="refund.status_changed").count() == 1


@pytest.mark.parametrize("outcome", ["IGNORED", "UNMATCHED"])
def test_a_settled_ignored_or_unmatched_event_is_not_processed_again(shop, refund, outcome):
    if outcome == "IGNORED":
        refund.status = APPROVED
        refund.save()
    event = run(receive(shop, refund.transaction_id if outcome == "IGNORED" else "TXN-NOPE", "rejected"))
    assert event.status == outcome

    process_event(event_id=event.pk)

    event.refresh_from_db()
    assert (event.status, event.attempts) == (outcome, 1)
    assert len(processed_audits(event)) == 1


def test_processing_an_event_that_does_not_exist_does_nothing():
    assert process_event(event_id=999_999) is None
    assert webhook_tasks.process_webhook_event(999_999) is None
    assert not AuditEvent.objects.exists()


def test_the_task_function_processes_the_event_and_returns_its_status(shop, refund):
    event = receive(shop, refund.transaction_id, "processing")

    assert webhook_tasks.process_webhook_event(event.pk) == "PROCESSED"
    assert webhook_tasks.process_webhook_event(event.pk) == "PROCESSED"

    event.refresh_from_db()
    assert event.attempts == 1
    refund.refresh_from_db()
    assert refund.status == PROCESSING


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_workers_racing_on_one_refund_apply_each_event_once_and_one_final_status():
    shop = merchant_with_secret("shop")
    refund = RefundFactory(transaction_id="TXN-RACE", merchant=shop.merchant)
    approved = receive(shop, "TXN-RACE", "approved")
    rejected = receive(shop, "TXN-RACE", "rejected")
    calls = [approved.pk, approved.pk, approved.pk, rejected.pk, rejected.pk, rejected.pk]
    barrier = threading.Barrier(len(calls))

    def work(event_id):
        try:
            barrier.wait(timeout=10)
            process_event(event_id=event_id)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        list(pool.map(work, calls))

    approved.refresh_from_db()
    rejected.refresh_from_db()
    refund.refresh_from_db()
    assert sorted([approved.status, rejected.status]) == ["IGNORED", "PROCESSED"]
    assert (approved.attempts, rejected.attempts) == (1, 1)
    winner = approved if approved.status == "PROCESSED" else rejected
    assert refund.status == {"approved": APPROVED, "rejected": REJECTED}[winner.requested_status]
    assert AuditEvent.objects.filter(action="webhook.processed").count() == 2
    assert AuditEvent.objects.filter(action="refund.status_changed").count() == 1


# --- unexpected errors -------------------------------------------------------------------------


def test_an_unexpected_error_fails_the_event_and_keeps_the_message(shop, refund, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("merchant ledger unavailable")

    monkeypatch.setattr(services, "apply_merchant_status", explode)
    before = snapshot(refund)

    event = run(receive(shop, refund.transaction_id, "approved"))

    assert (event.status, event.attempts, event.refund) == ("FAILED", 1, None)
    assert event.detail == "RuntimeError: merchant ledger unavailable"
    assert event.processed_at is not None
    assert snapshot(refund) == before
    [audit] = processed_audits(event)
    assert audit.data["status"] == "FAILED"


def test_an_error_after_the_refund_moved_rolls_the_move_back(shop, refund, monkeypatch):
    real = services.apply_merchant_status

    def move_then_explode(**kwargs):
        real(**kwargs)
        raise RuntimeError("crashed after the update")

    monkeypatch.setattr(services, "apply_merchant_status", move_then_explode)
    before = snapshot(refund)

    event = run(receive(shop, refund.transaction_id, "approved"))

    assert event.status == "FAILED"
    assert snapshot(refund) == before
    assert not AuditEvent.objects.filter(action="refund.status_changed").exists()


def test_a_very_long_error_message_is_cut_to_the_detail_column(shop, refund, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("x" * 2000)

    monkeypatch.setattr(services, "apply_merchant_status", explode)

    event = run(receive(shop, refund.transaction_id, "approved"))

    assert event.status == "FAILED"
    assert len(event.detail) == 500


# --- re-processing -----------------------------------------------------------------------------


def failed_event(shop, refund, monkeypatch) -> WebhookEvent:
    def explode(**kwargs):
        raise RuntimeError("boom")

    with monkeypatch.context() as patch:
        patch.setattr(services, "apply_merchant_status", explode)
        event = run(receive(shop, refund.transaction_id, "approved"))
    assert event.status == "FAILED"
    return event


def test_a_failed_event_can_be_reprocessed(shop, refund, monkeypatch, queued, django_capture_on_commit_callbacks):
    event = failed_event(shop, refund, monkeypatch)

    with django_capture_on_commit_callbacks(execute=True):
        reprocess_event(event_id=event.pk, actor=STAFF)

    event.refresh_from_db()
    assert event.status == "RECEIVED"
    assert event.detail == "Re-queued by test (was FAILED)"
    assert queued == [event.pk]
    [audit] = AuditEvent.objects.filter(action="webhook.reprocess_requested")
    assert (audit.target_type, audit.target_id, audit.actor_label, audit.data) == (
        "webhook_event",
        str(event.pk),
        "test",
        {"was": "FAILED"},
    )

    event = run(event)

    assert (event.status, event.attempts) == ("PROCESSED", 2)
    refund.refresh_from_db()
    assert refund.status == APPROVED


def test_an_unmatched_event_applies_once_the_refund_exists(shop, queued, django_capture_on_commit_callbacks):
    event = run(receive(shop, "TXN-LATE", "rejected"))
    assert event.status == "UNMATCHED"
    refund = RefundFactory(transaction_id="TXN-LATE", merchant=shop.merchant)

    with django_capture_on_commit_callbacks(execute=True):
        reprocess_event(event_id=event.pk, actor=STAFF)
    assert queued == [event.pk]
    event = run(event)

    assert (event.status, event.refund) == ("PROCESSED", refund)
    refund.refresh_from_db()
    assert refund.status == REJECTED


def test_reprocessing_queues_nothing_before_commit(
    shop, refund, monkeypatch, queued, django_capture_on_commit_callbacks
):
    event = failed_event(shop, refund, monkeypatch)

    with django_capture_on_commit_callbacks() as callbacks:
        reprocess_event(event_id=event.pk, actor=STAFF)

    assert queued == []
    assert len(callbacks) == 1


@pytest.mark.parametrize("status", ["PROCESSED", "IGNORED", "RECEIVED"])
def test_only_failed_or_unmatched_events_can_be_reprocessed(shop, refund, status, queued):
    event = receive(shop, refund.transaction_id, "approved")
    WebhookEvent.objects.filter(pk=event.pk).update(status=status, detail="as it was")

    with pytest.raises(NotReprocessable, match=status):
        reprocess_event(event_id=event.pk, actor=STAFF)

    event.refresh_from_db()
    assert (event.status, event.detail) == (status, "as it was")
    assert queued == []
    assert not AuditEvent.objects.filter(action="webhook.reprocess_requested").exists()


# --- the sweeper -------------------------------------------------------------------------------


def age(event, seconds: int) -> None:
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - datetime.timedelta(seconds=seconds))


def test_the_sweeper_requeues_only_received_events_older_than_the_threshold(shop, refund, queued):
    stale = [receive(shop, refund.transaction_id, "processing") for _ in range(3)]
    for seconds, event in zip((600, 400, 301), stale, strict=True):
        age(event, seconds)
    fresh = receive(shop, refund.transaction_id, "approved")
    age(fresh, 200)
    done = receive(shop, refund.transaction_id, "approved")
    age(done, 900)
    WebhookEvent.objects.filter(pk=done.pk).update(status="PROCESSED")
    failed = receive(shop, refund.transaction_id, "approved")
    age(failed, 900)
    WebhookEvent.objects.filter(pk=failed.pk).update(status="FAILED")

    count = services.requeue_stale_events(older_than=datetime.timedelta(minutes=5))

    assert count == 3
    assert queued == [event.pk for event in stale]  # oldest first


def test_the_sweeper_threshold_defaults_to_the_setting(shop, refund, queued, settings):
    settings.WEBHOOK_STALE_AFTER_SECONDS = 60
    old, recent = (receive(shop, refund.transaction_id, "approved") for _ in range(2))
    age(old, 61)
    age(recent, 30)

    assert webhook_tasks.requeue_stale_webhook_events() == 1
    assert queued == [old.pk]


def test_the_sweeper_leaves_events_alone_while_the_broker_still_holds_tasks(shop, refund, queued):
    from django_q.models import OrmQ

    event = receive(shop, refund.transaction_id, "approved")
    age(event, 1000)
    OrmQ.objects.bulk_create(
        OrmQ(key="bnpl", payload="x", lock=timezone.now()) for _ in range(services.BUSY_BROKER + 1)
    )

    assert services.requeue_stale_events(older_than=datetime.timedelta(minutes=5)) == 0
    assert queued == []


def test_the_sweeper_still_works_while_its_own_task_and_a_few_schedules_are_queued(shop, refund, queued):
    from django_q.models import OrmQ

    event = receive(shop, refund.transaction_id, "approved")
    age(event, 1000)
    OrmQ.objects.bulk_create(OrmQ(key="bnpl", payload="x", lock=timezone.now()) for _ in range(3))

    assert services.requeue_stale_events(older_than=datetime.timedelta(minutes=5)) == 1
    assert queued == [event.pk]


def test_the_sweeper_respects_its_limit(shop, refund, queued):
    events = [receive(shop, refund.transaction_id, "approved") for _ in range(5)]
    for index, event in enumerate(events):
        age(event, 1000 - index)

    assert services.requeue_stale_events(older_than=datetime.timedelta(0), limit=2) == 2
    assert queued == [events[0].pk, events[1].pk]


def test_a_requeued_event_is_still_processed_only_once(shop, refund, queued):
    event = receive(shop, refund.transaction_id, "approved")
    age(event, 1000)
    services.requeue_stale_events(older_than=datetime.timedelta(0))
    services.requeue_stale_events(older_than=datetime.timedelta(0))
    assert queued == [event.pk, event.pk]

    for event_id in queued:
        webhook_tasks.process_webhook_event(event_id)

    event.refresh_from_db()
    assert (event.status, event.attempts) == ("PROCESSED", 1)
    assert len(processed_audits(event)) == 1


def test_an_event_whose_enqueue_failed_is_answered_202_and_found_by_the_sweeper(
    client, shop, refund, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr("django_q.tasks.async_task", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, shop, {"refund_id": refund.transaction_id, "status": "approved"})

    assert response.status_code == 202
    event = WebhookEvent.objects.get()
    assert event.status == "RECEIVED"

    sent = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kwargs: sent.append((func, args)))
    age(event, 1000)
    assert services.requeue_stale_events() == 1
    assert sent == [(services.PROCESS_TASK, (event.pk,))]


# --- the audit trail ---------------------------------------------------------------------------


def test_processing_is_audited_as_the_merchant_for_the_refunds_customer(shop, refund):
    event = run(receive(shop, refund.transaction_id, "approved"))

    [audit] = processed_audits(event)
    assert (audit.actor_kind, audit.actor_label, audit.actor_user) == ("merchant", "merchant:shop", None)
    assert (audit.target_type, audit.target_id) == ("webhook_event", str(event.pk))
    assert audit.customer_ref == refund.customer.customer_id == "usr-wh-1"
    assert audit.data == {"status": "PROCESSED", "detail": "Refund is now APPROVED", "requested": "approved"}
    [changed] = AuditEvent.objects.filter(action="refund.status_changed")
    assert (changed.actor_kind, changed.actor_label, changed.customer_ref) == ("merchant", "merchant:shop", "usr-wh-1")
