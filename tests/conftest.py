"""Fixtures shared by the domain tests."""

import pytest

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from tests.factories import CustomerFactory, UserFactory


@pytest.fixture
def staff_user(db):
    return UserFactory.support()


@pytest.fixture
def actor(staff_user):
    """A support agent acting through the back office."""
    return Actor.staff(staff_user)


@pytest.fixture
def customer(db):
    return CustomerFactory()


@pytest.fixture
def audit_events(db):
    """`audit_events("plan.created")`: the events with that action, oldest first."""

    def events(action: str, **filters):
        return list(AuditEvent.objects.filter(action=action, **filters).order_by("id"))

    return events
