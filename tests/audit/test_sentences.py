"""Every event the back office writes reads as a sentence (audit.sentences): driven through the
services a day of work touches, then every event written is described."""

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.sentences import SENTENCES, action_words, describe
from bnpl_admin.audit.services import Actor
from bnpl_admin.collection import services as collection
from bnpl_admin.collection.models import Case
from bnpl_admin.customers import services as customers
from bnpl_admin.plans import ledger
from bnpl_admin.plans.services import check_overdue
from bnpl_admin.refunds import services as refunds
from bnpl_admin.refunds.models import Refund
from bnpl_admin.text import short_id
from tests.factories import CustomerFactory, MerchantFactory, PlanFactory, UserFactory

pytestmark = pytest.mark.django_db
D = Decimal
CODES = re.compile(r"\b(?:DEBT_USER|NORMAL|PENDING|APPROVED|REJECTED|None)\b|[a-z]+\.[a-z_]+ed\b|[a-z]+_[a-z_]+:")


def test_a_day_of_work_reads_as_sentences_without_codes():
    actor = Actor.staff(UserFactory.risk())
    today = timezone.localdate()
    shop = MerchantFactory(code="shop")
    customer = CustomerFactory(customer_id="usr-words")
    plan = PlanFactory(customer=customer, merchant=shop, total_amount=D("3000000.00"), installment_count=3)
    customer.installments.filter(number=1).update(due_date=today - datetime.timedelta(days=40))
    check_overdue(as_of=today)
    case = Case.objects.get(customer=customer, status="OPEN")
    collection.assign(case_id=case.pk, assignee_username=actor.user.username, actor=actor)
    collection.add_note(case_id=case.pk, text="Called, card 4111 1111 1111 1111 read out", actor=actor)
    collection.add_promise(case_id=case.pk, amount="500000.00", due_date=today, actor=actor)
    customers.reveal_pii(customer_id="usr-words", field="card_number", actor=actor)
    payment = ledger.record_payment(
        customer_id="usr-words", amount="1500000.00", method="cash", reference="rcpt-1", actor=actor
    ).payment
    ledger.reverse_payment(payment_id=payment.pk, reason="Entered twice", actor=actor)
    customer.refresh_from_db()
    customers.override_status(
        customer_id="usr-words",
        status="NORMAL",
        reason="Promised by phone",
        hold_until=today + datetime.timedelta(days=5),
        actor=actor,
    )
    issued = refunds.issue_refund(
        customer_id="usr-words", transaction_id="txn-w1", amount=D("1000000.00"), plan_id=plan.pk, actor=actor
    ).refund
    refunds.transition(refund=Refund.objects.get(pk=issued.pk), to=Refund.Status.APPROVED, actor=actor)
    other = refunds.issue_refund(customer_id="usr-words", transaction_id="txn-w2", amount=D("5.00"), actor=actor)
    refunds.cancel_refund(refund_id=other.refund.pk, actor=actor, reason="Duplicate")

    events = list(AuditEvent.objects.order_by("at", "id"))
    written = {event.action for event in events}
    assert {
        "plan.created",
        "customer.status_changed",
        "case.assigned",
        "case.note_added",
        "case.promise_added",
        "customer.pii_revealed",
        "payment.recorded",
        "payment.reversed",
        "customer.hold_set",
        "refund.issued",
        "refund.status_changed",
        "refund.cancelled",
        "overdue.checked",
    } <= written
    for event in events:
        assert event.action in SENTENCES, event.action
        sentence = describe(event.action, event.data)
        assert not CODES.search(sentence), (event.action, sentence)
        assert not CODES.search(action_words(event.action)), event.action
    said = {event.action: describe(event.action, event.data) for event in events}
    assert said["plan.created"] == "Plan of 3,000,000.00 UZS in 3 installments created, from " + (
        f"{plan.start_date:%Y-%m-%d}, merchant shop"
    )
    assert said["payment.reversed"] == "Payment rcpt-1 of 1,500,000.00 UZS reversed: Entered twice"
    assert said["refund.cancelled"] == "Refund txn-w2 cancelled by staff: Duplicate"
    assert "4111 1111 1111 1111" not in said["case.note_added"] and "(numbers masked)" in said["case.note_added"]
    assert said["customer.pii_revealed"] == "Card number revealed"


def test_an_event_of_another_shape_is_shown_as_its_data():
    assert describe("customer.status_changed", {"to": "NORMAL"}) == "to: NORMAL"
    assert describe("something.new", {"a": 1}) == "a: 1"
    assert action_words("payment.reversed") == "Payment reversed"


def test_a_uuid_is_shortened_and_other_ids_are_not():
    assert short_id("3a3c8a71-ff57-4e2b-8991-ab9bebc2026f") == "3a3c8a71"
    assert short_id("usr-001") == "usr-001"
    assert short_id(42) == "42"
