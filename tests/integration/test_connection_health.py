"""CONN_HEALTH_CHECKS: a persistent connection that died while idle is replaced without an error."""

import time

import pytest
from django.db import close_old_connections, connections

from bnpl_admin.customers.models import Customer
from tests.factories import CustomerFactory
from tests.integration.test_faults import _kill_my_connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

connection = connections["default"]  # the backend itself, not django.db.connection's proxy


@pytest.fixture
def health_checks(monkeypatch):
    """The health checks made (each `is_usable()` call is one `SELECT 1`)."""
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    connection.connect()
    made = []
    original = connection.is_usable

    def is_usable():
        made.append(time.monotonic())
        return original()

    monkeypatch.setattr(connection, "is_usable", is_usable)
    return made


def _request(query=lambda: Customer.objects.count()):
    """What a request does around its queries: Django's request_started and request_finished."""
    close_old_connections()
    try:
        return query()
    finally:
        close_old_connections()


def test_a_connection_that_died_while_idle_is_replaced_without_an_error(health_checks):
    CustomerFactory()
    _request()
    pid = connection.connection.info.backend_pid
    _kill_my_connection()

    assert _request() == 1
    assert connection.connection.info.backend_pid != pid
