"""audit.services: who did what to what, recorded append-only."""

import uuid

import pytest
from django.test import RequestFactory

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor, record, record_export
from tests.factories import MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_record_writes_one_event_with_everything_it_was_given(actor):
    target = uuid.uuid4()

    event = record(
        actor=actor,
        action="plan.created",
        target_type="plan",
        target_id=target,
        customer_ref="usr-001",
        data={"total_amount": "500.00"},
    )

    stored = AuditEvent.objects.get()
    assert stored.pk == event.pk
    assert stored.actor_kind == AuditEvent.ActorKind.STAFF
    assert stored.actor_user == actor.user
    assert stored.actor_label == actor.user.username
    assert (stored.action, stored.target_type, stored.target_id) == ("plan.created", "plan", str(target))
    assert stored.customer_ref == "usr-001"
    assert stored.data == {"total_amount": "500.00"}
    assert stored.at is not None


def test_data_and_customer_default_to_empty():
    record(actor=Actor.system(), action="overdue.checked", target_type="overdue_check", target_id="2025-03-10")

    stored = AuditEvent.objects.get()
    assert stored.data == {}
    assert stored.customer_ref == ""


def test_events_are_listed_newest_first():
    for n in range(3):
        record(actor=Actor.system(), action=f"step.{n}", target_type="test", target_id=n)

    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["step.2", "step.1", "step.0"]


def test_a_recorded_event_cannot_be_changed():
    event = record(actor=Actor.system(), action="customer.created", target_type="customer", target_id="usr-1")
    event.action = "customer.deleted"

    with pytest.raises(ValueError, match="append-only"):
        event.save()

    assert AuditEvent.objects.get().action == "customer.created"


def test_a_recorded_event_cannot_be_deleted():
    event = record(actor=Actor.system(), action="customer.created", target_type="customer", target_id="usr-1")

    with pytest.raises(ValueError, match="append-only"):
        event.delete()

    assert AuditEvent.objects.count() == 1


def test_a_staff_actor_is_the_user_and_their_username():
    user = UserFactory(username="dilnoza")

    actor = Actor.staff(user)

    assert (actor.kind, actor.label, actor.user, actor.user_id) == ("staff", "dilnoza", user, user.pk)


def test_the_actor_of_a_request_is_its_user():
    user = UserFactory(username="aziz")
    request = RequestFactory().get("/")
    request.user = user

    assert Actor.from_request(request) == Actor.staff(user)


def test_the_system_actor_has_no_user():
    actor = Actor.system("overdue-checker")

    assert (actor.kind, actor.label, actor.user, actor.user_id) == ("system", "overdue-checker", None, None)
    assert Actor.system().label == "system"


def test_a_merchant_actor_is_labelled_with_the_merchant_code():
    merchant = MerchantFactory(code="uzum-market")

    actor = Actor.merchant(merchant)

    assert (actor.kind, actor.label, actor.user_id) == ("merchant", "merchant:uzum-market", None)
    record(actor=actor, action="refund.status_changed", target_type="refund", target_id="r1")
    stored = AuditEvent.objects.get()
    assert (stored.actor_kind, stored.actor_label, stored.actor_user) == ("merchant", "merchant:uzum-market", None)


def test_an_export_is_recorded_with_its_filters_and_a_typed_search_only_as_present():
    user = UserFactory.support()

    event = record_export(
        actor=Actor.staff(user),
        export_name="customers",
        filters={"status": "DEBT_USER", "q": "4111 1111 1111 1111", "sort": "-full_name"},
        rows=12,
    )

    event.refresh_from_db()
    assert (event.action, event.target_type, event.target_id, event.actor_user_id) == (
        "table.exported",
        "export",
        "customers",
        user.pk,
    )
    assert event.data == {"rows": 12, "query": {"status": "DEBT_USER", "q": "(search text)", "sort": "-full_name"}}
    assert "4111" not in str(event.data)
