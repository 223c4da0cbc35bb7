"""Fault injection on PostgreSQL: a database connection dropped mid-request, the task cluster
killed in the middle of the overdue checker, and two clusters running at once.

The promise under test: an answer without a traceback, nothing half-written, recovery once the
fault is gone, nothing lost and nothing doubled.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import psycopg
import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task
from rest_framework.test import APIClient

from bnpl_admin.api.models import IdempotencyKey
from bnpl_admin.api.services import issue_api_token
from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans import services as plan_services
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.refunds import services as refund_services
from bnpl_admin.refunds.models import Refund
from tests.factories import CustomerFactory, PlanFactory, UserFactory
from tests.integration.test_qcluster import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _another_connection(**options) -> psycopg.Connection:
    """A connection of its own to the test database, outside Django's."""
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        **options,
    )


def _kill_my_connection() -> None:
    """Terminate this process's PostgreSQL backend from another connection (a dropped link)."""
    pid = connection.connection.info.backend_pid
    with _another_connection(autocommit=True) as admin, admin.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


def _fresh_count(model) -> int:
    connection.close()
    return model.objects.count()


@pytest.fixture
def drop_connection_once(monkeypatch):
    """Make the next call of `target.name` drop the database connection first."""

    def arm(target, name):
        original = getattr(target, name)
        state = {"armed": True}

        def dropping(*args, **kwargs):
            if state["armed"]:
                state["armed"] = False
                _kill_my_connection()
            return original(*args, **kwargs)

        monkeypatch.setattr(target, name, dropping)

    return arm


def test_a_connection_dropped_while_a_plan_is_created_answers_503_without_a_trace_and_saves_nothing(
    drop_connection_once,
):
    customer = CustomerFactory()
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory.support())
    form = client.get(f"/customers/{customer.customer_id}/plans/new/").content.decode()
    token = form.split('name="token" value="')[1].split('"')[0]
    drop_connection_once(plan_services, "build_schedule")  # after the plan row, before its installments

    response = client.post(
        f"/customers/{customer.customer_id}/plans/new/",
        {"total_amount": "300.00", "installment_count": "3", "token": token},
    )

    assert response.status_code == 503
    assert response["Retry-After"]
    body = response.content.decode()
    assert "Temporarily unavailable" in body and "Traceback" not in body and "OperationalError" not in body
    assert _fresh_count(Plan) == 0 and _fresh_count(Installment) == 0
    again = client.post(
        f"/customers/{customer.customer_id}/plans/new/",
        {"total_amount": "300.00", "installment_count": "3", "token": token},
    )
    assert again.status_code == 302
    assert Plan.objects.count() == 1 and Installment.objects.count() == 3


def test_a_connection_dropped_during_an_api_refund_answers_json_503_and_the_retry_succeeds(drop_connection_once):
    customer = CustomerFactory()
    user = UserFactory.support()
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=user)}")
    body = {"user_id": customer.customer_id, "transaction_id": "TX-FAULT-1", "amount": "50.00"}
    drop_connection_once(refund_services, "_create_refund")

    response = client.post("/api/v1/refunds/", body, format="json", HTTP_IDEMPOTENCY_KEY="fault-key-1")

    assert response.status_code == 503
    assert response.json() == {"error": "The database is not available; try again shortly"}
    assert _fresh_count(Refund) == 0
    assert not IdempotencyKey.objects.filter(key="fault-key-1", state="COMPLETED").exists()
    retry = client.post("/api/v1/refunds/", body, format="json", HTTP_IDEMPOTENCY_KEY="fault-key-1")
    assert retry.status_code == 201, retry.content
    assert Refund.objects.filter(transaction_id="TX-FAULT-1").count() == 1


def _customers_falling_due(count: int) -> list[Customer]:
    start = timezone.localdate() - datetime.timedelta(days=70)
    return [PlanFactory(start_date=start, total_amount=Decimal("90.00")).customer for _ in range(count)]


def _make_checker_due() -> None:
    Schedule.objects.filter(name="check-overdue").update(next_run=timezone.now() - datetime.timedelta(seconds=1))


def test_the_cluster_killed_inside_the_overdue_checker_leaves_nothing_half_done_and_the_next_run_finishes(cluster):
    customers = _customers_falling_due(5)
    blocker = _another_connection()
    try:
        # Hold one customer's row: the checker blocks on it inside its transaction.
        with blocker.cursor() as cursor:
            cursor.execute("SELECT id FROM customers_customer WHERE id = %s FOR UPDATE", [customers[-1].pk])
        cluster.start()
        async_task("tasks.overdue.run_check_overdue")
        wait_until(
            lambda: _checker_is_waiting_on_a_lock(),
            timeout=30,
            what="the overdue checker to block on the held row",
            cluster=cluster,
        )
        cluster.kill()
    finally:
        blocker.rollback()
        blocker.close()

    assert Installment.objects.filter(status="OVERDUE").count() == 0  # its transaction never committed
    assert Customer.objects.filter(status="DEBT_USER").count() == 0
    assert not AuditEvent.objects.filter(action="customer.status_changed").exists()

    cluster.start()
    _make_checker_due()
    wait_until(
        lambda: Customer.objects.filter(status="DEBT_USER").count() == 5,
        timeout=60,
        what="the restarted cluster's checker to flip the customers",
        cluster=cluster,
    )
    assert AuditEvent.objects.filter(action="customer.status_changed").count() == 5


def _checker_is_waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


def test_two_clusters_running_the_checker_at_once_have_the_effect_of_one(cluster):
    _customers_falling_due(20)
    cluster.start()
    cluster.start()
    for _ in range(6):
        async_task("tasks.overdue.run_check_overdue")

    wait_until(
        lambda: Customer.objects.filter(status="DEBT_USER").count() == 20 and not _queued_tasks(),
        timeout=60,
        what="both clusters to finish the checker runs",
        cluster=cluster,
    )

    flips = AuditEvent.objects.filter(action="customer.status_changed")
    assert flips.count() == 20
    assert flips.values("customer_ref").distinct().count() == 20
    marked = Installment.objects.filter(status="OVERDUE").count()
    summaries = AuditEvent.objects.filter(action="overdue.checked")
    assert sum(event.data["installments_marked_overdue"] for event in summaries) == marked


def _queued_tasks() -> int:
    from django_q.models import OrmQ

    return OrmQ.objects.count()


def test_a_connection_dropped_midway_through_an_export_fails_the_download_rather_than_cutting_it_short(
    monkeypatch,
):
    """A CSV export streams after its 200 has been sent, so a failure cannot change the status. The
    stream must then break (the WSGI server ends the chunked response without its last chunk, and
    the browser reports a failed download), never end as if the file were complete."""
    from django.db.utils import OperationalError

    from bnpl_admin.staff import exports

    for _ in range(30):
        CustomerFactory()
    monkeypatch.setattr(exports, "CHUNK_ROWS", 5)
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory.risk())
    response = client.get("/customers/", {"_export": "csv"})
    assert response.status_code == 200 and response.streaming
    chunks = iter(response.streaming_content)
    assert next(chunks).startswith(b"Customer ID,")

    _kill_my_connection()

    with pytest.raises(OperationalError):
        for _ in chunks:
            pass
    connection.close()  # what Django does with a broken connection before the next request
    assert client.get("/customers/", {"_export": "csv"}).status_code == 200
