"""What the task cluster keeps of each task it ran, through django-q2's own pipeline.

The broker, the signed task package and the result saving (`django_q.monitor.save_task`) are
django-q2's; only the process boundaries are left out: a task is taken from the broker as the
pusher takes it, run as a worker runs it, and its result saved and acknowledged as the monitor does.
"""

import uuid

import pytest
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import Failure, OrmQ, Success, Task
from django_q.monitor import save_task
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from bnpl_admin.dashboard import metrics
from bnpl_admin.webhooks.models import WebhookEvent
from bnpl_admin.webhooks.services import enqueue_processing, receive_event
from tests.dashboard import health_check
from tests.factories import CustomerFactory, RefundFactory
from tests.webhooks import merchant_with_secret

pytestmark = pytest.mark.django_db

CHECKER = "tasks.overdue.run_check_overdue"
DASHBOARD = "tasks.dashboard.refresh_dashboard_figures"


@pytest.fixture(autouse=True)
def _keep_the_test_transaction(monkeypatch):
    """The monitor closes stale connections before saving; here that would close the test's own."""
    monkeypatch.setattr("django_q.monitor.close_old_django_connections", lambda: None)


def run_queued_tasks() -> int:
    """Run every task the broker holds, as the cluster's pusher, worker and monitor would."""
    broker = get_broker()
    ran = 0
    while OrmQ.objects.exists():
        for ack_id, payload in broker.dequeue():
            task = SignedPackage.loads(payload)
            task["ack_id"] = ack_id
            try:
                task["result"], task["success"] = import_string(task["func"])(*task["args"], **task["kwargs"]), True
            except Exception as exc:  # the worker keeps the error as the result
                task["result"], task["success"] = f"{exc} : {type(exc).__name__}", False
            task["stopped"] = timezone.now()
            save_task(task, broker)
            if task["success"] or task.get("ack_failure", False):
                broker.acknowledge(task.pop("ack_id"))
            ran += 1
    return ran


@pytest.fixture
def event():
    """A RECEIVED event approving a PENDING refund."""
    shop = merchant_with_secret("shop")
    refund = RefundFactory(customer=CustomerFactory(), transaction_id="TXN-Q", merchant=shop.merchant)
    payload = {"refund_id": refund.transaction_id, "status": "approved", "merchant_reference": "M-1"}
    return receive_event(merchant=shop.merchant, webhook_id=f"msg_{uuid.uuid4().hex}", payload=payload).event


def test_a_processed_webhook_event_is_its_own_record_and_leaves_no_task_result(event):
    enqueue_processing(event.pk)

    assert run_queued_tasks() == 1

    event.refresh_from_db()
    assert (event.status, event.attempts) == (WebhookEvent.Status.PROCESSED, 1)
    assert event.processed_at is not None
    assert not Task.objects.exists()
    assert not OrmQ.objects.exists()  # acknowledged: it will not be delivered again


def test_a_webhook_task_that_fails_is_kept_and_counted_on_the_health_page(event, monkeypatch):
    def database_gone(**kwargs):
        raise ConnectionError("server closed the connection unexpectedly")

    monkeypatch.setattr("bnpl_admin.webhooks.services.process_event", database_gone)
    enqueue_processing(event.pk)

    run_queued_tasks()

    failure = Failure.objects.get()
    assert failure.func == "tasks.webhooks.process_webhook_event"
    assert "server closed the connection" in failure.result
    assert health_check("Failed tasks (24 h)").value == "1"
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.RECEIVED  # the sweeper queues it again


def test_the_checkers_last_run_outlives_a_burst_of_other_task_results(monkeypatch):
    """Results are pruned per task function: a busy minute of other tasks cannot push the overdue
    checker's last run out of the table and turn the health page's check to "has not run yet"."""
    monkeypatch.setattr(Conf, "SAVE_LIMIT", 3)
    async_task(CHECKER)
    run_queued_tasks()
    for _ in range(5):
        async_task(DASHBOARD)
    run_queued_tasks()

    assert Success.objects.filter(func=CHECKER).count() == 1
    assert Success.objects.filter(func=DASHBOARD).count() == 3  # pruned to the limit, oldest first
    checker = health_check("Overdue checker")
    assert checker.state == metrics.GREEN
    assert checker.value.endswith(" ago")
