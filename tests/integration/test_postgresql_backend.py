"""bnpl_admin.postgresql: the reused-connection health check (`SELECT 1`) is skipped for a
connection that ran a query moments ago, and still made, and still repairs a dead connection,
after the connection sat idle."""

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


def test_it_is_the_projects_backend():
    assert type(connection).__module__ == "bnpl_admin.postgresql.base"
    assert connection.vendor == "postgresql"


def test_back_to_back_requests_make_no_health_check(health_checks):
    for _ in range(5):
        _request()

    assert health_checks == []


def test_a_connection_idle_past_the_window_is_checked_once(health_checks):
    _request()
    health_checks.clear()
    connection._last_cursor_at -= connection.HEALTH_CHECK_BYPASS_SECONDS + 0.1

    _request()
    _request()

    assert len(health_checks) == 1


def test_a_connection_that_died_while_idle_is_replaced_without_an_error(health_checks):
    CustomerFactory()
    _request()
    pid = connection.connection.info.backend_pid
    _kill_my_connection()
    connection._last_cursor_at -= connection.HEALTH_CHECK_BYPASS_SECONDS + 0.1

    assert _request() == 1
    assert connection.connection.info.backend_pid != pid
