"""customers.services: creation, status override, audited PII reveal."""

import datetime

import pytest

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.customers import encryption
from bnpl_admin.customers.errors import CustomerAlreadyExists, CustomerNotFound, UnknownPiiField
from bnpl_admin.customers.models import Customer
from bnpl_admin.customers.services import create_customer, override_status, prepare_customer, reveal_pii
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PII = {"phone_number": "+998901234567", "card_number": "4111111111111111", "passport_number": "AA1234567"}


def _create(actor, customer_id="usr-001", **overrides):
    fields = {
        "customer_id": customer_id,
        "full_name": "  Aziz Rakhimov ",
        "date_of_birth": datetime.date(1988, 11, 2),
        **PII,
        **overrides,
    }
    return create_customer(actor=actor, **fields)


def test_create_customer_stores_a_normal_customer_with_masked_pii_and_audits_it(actor, audit_events):
    customer = _create(actor)

    stored = Customer.objects.get(customer_id="usr-001")
    assert stored.pk == customer.pk
    assert stored.full_name == "Aziz Rakhimov"
    assert stored.status == Customer.Status.NORMAL
    assert stored.date_of_birth == datetime.date(1988, 11, 2)
    assert (stored.phone_masked, stored.card_masked, stored.passport_masked) == (
        "+998****4567",
        "4111 **** **** 1111",
        "AA*******",
    )
    [event] = audit_events("customer.created")
    assert (event.target_type, event.target_id, event.customer_ref) == ("customer", "usr-001", "usr-001")
    assert event.actor_user == actor.user
    assert event.data == {"phone_number": "+998****4567", "card_number": "4111 **** **** 1111"}


def test_create_customer_normalizes_what_it_encrypts(actor):
    _create(actor, phone_number="+998 (90) 123-45-67", card_number="4111 1111 1111 1111", passport_number=" aa1234567")

    stored = Customer.objects.get(customer_id="usr-001")
    assert encryption.decrypt(stored.phone_encrypted) == "+998901234567"
    assert encryption.decrypt(stored.card_encrypted) == "4111111111111111"
    assert encryption.decrypt(stored.passport_encrypted) == "AA1234567"


def test_duplicate_customer_id_is_refused_and_changes_nothing(actor):
    original = _create(actor)
    before = Customer.objects.values().get(pk=original.pk)
    events_before = AuditEvent.objects.count()

    with pytest.raises(CustomerAlreadyExists, match="User usr-001 already exists"):
        _create(actor, full_name="Someone Else", phone_number="+998935556677")

    assert Customer.objects.count() == 1
    assert Customer.objects.values().get(pk=original.pk) == before
    assert AuditEvent.objects.count() == events_before


def test_prepare_customer_does_not_save():
    customer = prepare_customer(customer_id="usr-unsaved", full_name="X", date_of_birth=None, **PII)

    assert customer.pk is None
    assert not Customer.objects.filter(customer_id="usr-unsaved").exists()


def test_override_status_changes_the_status_and_audits_the_reason(actor, audit_events):
    customer = CustomerFactory()

    returned = override_status(
        customer_id=customer.customer_id, status=Customer.Status.DEBT_USER, reason=" fraud check ", actor=actor
    )

    customer.refresh_from_db()
    assert customer.status == returned.status == Customer.Status.DEBT_USER
    [event] = audit_events("customer.status_changed")
    assert event.customer_ref == customer.customer_id
    assert event.actor_user == actor.user
    assert event.data == {"from": "NORMAL", "to": "DEBT_USER", "reason": "Manual override: fraud check"}


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_override_status_requires_a_reason(actor, reason):
    customer = CustomerFactory()

    with pytest.raises(ValueError, match="reason"):
        override_status(customer_id=customer.customer_id, status=Customer.Status.DEBT_USER, reason=reason, actor=actor)

    customer.refresh_from_db()
    assert customer.status == Customer.Status.NORMAL
    assert not AuditEvent.objects.filter(action="customer.status_changed").exists()


def test_override_status_refuses_an_unknown_status(actor):
    customer = CustomerFactory()

    with pytest.raises(ValueError, match="Unknown status"):
        override_status(customer_id=customer.customer_id, status="VIP", reason="because", actor=actor)

    customer.refresh_from_db()
    assert customer.status == Customer.Status.NORMAL


def test_override_status_of_an_unknown_customer_raises_not_found(actor):
    with pytest.raises(CustomerNotFound, match="User usr-nobody not found"):
        override_status(customer_id="usr-nobody", status=Customer.Status.NORMAL, reason="because", actor=actor)


def test_override_to_the_current_status_records_nothing(actor):
    customer = CustomerFactory()

    override_status(customer_id=customer.customer_id, status=Customer.Status.NORMAL, reason="check", actor=actor)

    assert not AuditEvent.objects.filter(action="customer.status_changed").exists()


@pytest.mark.parametrize(("field", "raw"), list(PII.items()))
def test_reveal_pii_returns_the_raw_value_and_audits_without_it(actor, audit_events, field, raw):
    _create(actor)

    assert reveal_pii(customer_id="usr-001", field=field, actor=actor) == raw

    [event] = audit_events("customer.pii_revealed")
    assert (event.target_type, event.target_id, event.customer_ref) == ("customer", "usr-001", "usr-001")
    assert event.actor_user == actor.user
    assert event.data == {"field": field}
    assert raw not in str(event.data)


def test_every_reveal_is_audited(actor, audit_events):
    _create(actor)

    for _ in range(3):
        reveal_pii(customer_id="usr-001", field="card_number", actor=actor)

    assert len(audit_events("customer.pii_revealed")) == 3


@pytest.mark.parametrize("field", ["full_name", "phone_encrypted", "card", "", "PHONE_NUMBER"])
def test_reveal_of_an_unknown_field_is_refused_and_not_audited(actor, field):
    _create(actor)

    with pytest.raises(UnknownPiiField):
        reveal_pii(customer_id="usr-001", field=field, actor=actor)

    assert not AuditEvent.objects.filter(action="customer.pii_revealed").exists()


def test_reveal_for_an_unknown_customer_raises_not_found(actor):
    with pytest.raises(CustomerNotFound):
        reveal_pii(customer_id="usr-nobody", field="phone_number", actor=actor)

    assert not AuditEvent.objects.filter(action="customer.pii_revealed").exists()
