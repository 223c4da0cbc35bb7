"""A real django-q2 cluster (`manage.py qcluster` in a subprocess) against the PostgreSQL test database.

Webhooks are posted through the Django test client without sync mode, so each one is queued in
django-q2's ORM broker and processed by the cluster's workers. The tests check the promise of the
design: every event is settled exactly once (nothing lost, nothing doubled), even when the
cluster is killed mid-batch, an approved refund is taken off its plan once (rule 8), and the
overdue checker runs on its schedule.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans import ledger
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.refunds import services as refunds
from bnpl_admin.refunds.models import Refund
from bnpl_admin.webhooks.models import WebhookEvent
from bnpl_admin.webhooks.services import PROCESS_TASK, enqueue_processing, requeue_stale_events
from tasks.schedules import register_schedules
from tests.factories import CustomerFactory, PlanFactory, RefundFactory
from tests.ledger.invariants import assert_ledger_consistent
from tests.webhooks import SignedMerchant, merchant_with_secret, send

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SETTLED = ("PROCESSED", "IGNORED", "UNMATCHED")
BATCH_SIZE = 200


# --- the cluster -------------------------------------------------------------------------------


def cluster_database_url() -> str:
    """DATABASE_URL of the test database this test runs against (not the configured one)."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Cluster:
    """`manage.py qcluster` in its own process group; its output goes to one log file."""

    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": cluster_database_url(),
            "Q_TIMEOUT": "10",
            "Q_RETRY": "15",
            "Q_WORKERS": "2",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("Q_SYNC", None)
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- qcluster start #{len(self.processes) + 1} ---\n".encode())
            log.flush()
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "qcluster"],
                    cwd=PROJECT_ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def kill(self) -> None:
        """SIGKILL the cluster and all its workers at once (no clean shutdown, no acknowledgements)."""
        process = self.processes[-1]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        for _ in range(50):  # the workers are killed with the group; make sure they are gone
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)

    def stop_all(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def assert_running(self) -> None:
        code = self.processes[-1].poll()
        assert code is None, f"qcluster exited with {code}:\n{self.output()}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def cluster(transactional_db, tmp_path):
    """A cluster to start; it is killed after the test (before the database is flushed)."""
    OrmQ.objects.all().delete()
    Task.objects.all().delete()
    running = Cluster(tmp_path / "qcluster.log")
    yield running
    running.stop_all()
    print(running.output())  # shown by pytest when the test failed


def wait_until(condition, *, timeout: float, what: str, cluster: Cluster, interval: float = 0.25) -> float:
    """Poll `condition` until it holds; returns the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        cluster.assert_running()
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}: {progress()}")


def progress() -> dict:
    return {
        "events": dict(Counter(WebhookEvent.objects.values_list("status", flat=True))),
        "queued_tasks": OrmQ.objects.count(),
    }


def all_settled() -> bool:
    return not WebhookEvent.objects.filter(status="RECEIVED").exists() and not OrmQ.objects.exists()


# --- a batch of webhooks -------------------------------------------------------------------------


@dataclass
class Post:
    sender: SignedMerchant
    refund_ref: str
    status: str
    webhook_id: str
    duplicate: bool = False
    round: int = 1  # round 2 is posted after round 1 (late halves of pairs, duplicates)


@dataclass
class Batch:
    posts: list[Post] = field(default_factory=list)
    # (merchant code, webhook id) -> the event statuses it may end in
    outcomes: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    # refund pk -> its status once everything is processed
    final: dict[uuid.UUID, str] = field(default_factory=dict)
    # pairs of events of which exactly one moves the refund (rejected + failed)
    one_of: list[tuple[tuple[str, str], tuple[str, str]]] = field(default_factory=list)

    def add(self, sender, refund_ref, status, outcomes, *, round_=1, webhook_id=None) -> tuple[str, str]:
        post = Post(sender, str(refund_ref), status, webhook_id or f"msg_{uuid.uuid4().hex}", round=round_)
        self.posts.append(post)
        key = (sender.code, post.webhook_id)
        self.outcomes[key] = set(outcomes)
        return key


def build_batch(alpha: SignedMerchant, beta: SignedMerchant, *, seed: int) -> Batch:
    """200 webhooks: single moves, in- and out-of-order pairs, conflicting reports, unknown refunds,
    another merchant's refunds, the same webhook-id from another merchant, and duplicates."""
    customers = [CustomerFactory() for _ in range(20)]
    beta_plans = [
        PlanFactory(customer=customers[i], merchant=beta.merchant, total_amount=Decimal("900.00")) for i in range(3)
    ]
    refunds = []
    for index in range(200):
        plan = beta_plans[index % 3] if 120 <= index < 135 else None
        customer = plan.customer if plan else customers[index % 20]
        merchant = beta.merchant if plan else alpha.merchant  # alpha's refunds carry no plan
        refunds.append(RefundFactory(customer=customer, plan=plan, merchant=merchant, amount=Decimal("10.00")))
    batch = Batch(final={refund.pk: Refund.Status.PENDING for refund in refunds})

    def ref(index):  # half by UUID, half by transaction id
        return refunds[index].pk if index % 2 else refunds[index].transaction_id

    singles = [
        (range(0, 30), "approved", Refund.Status.APPROVED),
        (range(30, 50), "rejected", Refund.Status.REJECTED),
        (range(50, 65), "failed", Refund.Status.REJECTED),
        (range(65, 85), "processing", Refund.Status.PROCESSING),
        (range(135, 145), "processing", Refund.Status.PROCESSING),
    ]
    alpha_ids = []
    for indices, status, final in singles:
        for index in indices:
            alpha_ids.append(batch.add(alpha, ref(index), status, {"PROCESSED"})[1])
            batch.final[refunds[index].pk] = final
    for index in range(85, 100):  # out of order: approved, then a late processing
        batch.add(alpha, ref(index), "approved", {"PROCESSED"})
        batch.add(alpha, ref(index), "processing", {"IGNORED", "PROCESSED"}, round_=2)
        batch.final[refunds[index].pk] = Refund.Status.APPROVED
    for index in range(100, 110):  # in order: processing, then approved
        batch.add(alpha, ref(index), "processing", {"PROCESSED", "IGNORED"})
        batch.add(alpha, ref(index), "approved", {"PROCESSED"}, round_=2)
        batch.final[refunds[index].pk] = Refund.Status.APPROVED
    for index in range(110, 120):  # two reports that both mean REJECTED: one applies
        first = batch.add(alpha, ref(index), "rejected", {"PROCESSED", "IGNORED"})
        second = batch.add(alpha, ref(index), "failed", {"PROCESSED", "IGNORED"}, round_=2)
        batch.one_of.append((first, second))
        batch.final[refunds[index].pk] = Refund.Status.REJECTED
    for index in range(120, 130):  # refunds on beta's plans: alpha does not find them
        batch.add(alpha, ref(index), "approved", {"UNMATCHED"})
    for offset, index in enumerate(range(130, 135)):  # beta's own; its webhook ids reuse alpha's
        batch.add(beta, ref(index), "rejected", {"PROCESSED"}, webhook_id=alpha_ids[offset])
        batch.final[refunds[index].pk] = Refund.Status.REJECTED
    for number in range(10):  # refunds nobody issued
        batch.add(alpha, f"TXN-UNKNOWN-{number}" if number % 2 else uuid.uuid4(), "approved", {"UNMATCHED"})
    for post in [p for p in batch.posts if p.sender is alpha][:10]:  # the same webhook ids again
        batch.posts.append(Post(alpha, post.refund_ref, post.status, post.webhook_id, duplicate=True, round=2))

    assert len(batch.posts) == BATCH_SIZE
    shuffler = random.Random(seed)
    rounds = []
    for number in (1, 2):
        posts = [post for post in batch.posts if post.round == number]
        shuffler.shuffle(posts)
        rounds.extend(posts)
    batch.posts = rounds
    return batch


def post_all(batch: Batch) -> list[int]:
    client = Client()
    codes = []
    for post in batch.posts:
        response = send(
            client,
            post.sender,
            {"refund_id": post.refund_ref, "status": post.status, "merchant_reference": f"R-{post.webhook_id}"},
            webhook_id=post.webhook_id,
        )
        codes.append(response.status_code)
        expected = 200 if post.duplicate else 202
        assert response.status_code == expected, (post, response.content)
    return codes


def assert_processed_exactly_once(batch: Batch) -> None:
    events = {(e.merchant.code, e.webhook_id): e for e in WebhookEvent.objects.select_related("merchant")}
    assert set(events) == set(batch.outcomes), "an event is missing or was invented"
    wrong = {key: e.status for key, e in events.items() if e.status not in batch.outcomes[key]}
    assert wrong == {}
    assert Counter(e.attempts for e in events.values()) == Counter({1: len(events)})
    assert all(e.processed_at is not None for e in events.values())

    audited = Counter(AuditEvent.objects.filter(action="webhook.processed").values_list("target_id", flat=True))
    assert audited == Counter({str(e.pk): 1 for e in events.values()}), "an event was processed twice or never"

    assert dict(Refund.objects.values_list("pk", "status")) == batch.final
    moves = Counter(AuditEvent.objects.filter(action="refund.status_changed").values_list("target_id", flat=True))
    processed = Counter(str(e.refund_id) for e in events.values() if e.status == "PROCESSED")
    assert moves == processed, "a refund moved without its event, or twice for one event"
    for first, second in batch.one_of:
        assert sorted([events[first].status, events[second].status]) == ["IGNORED", "PROCESSED"]
    assert not Task.objects.filter(success=False).exists(), list(Task.objects.filter(success=False).values("result"))


def merchants() -> tuple[SignedMerchant, SignedMerchant]:
    return merchant_with_secret("alpha"), merchant_with_secret("beta")


# --- the scenarios -----------------------------------------------------------------------------


def test_a_cluster_settles_every_webhook_exactly_once_and_runs_the_overdue_schedule(cluster):
    debtor = CustomerFactory(customer_id="usr-debtor")
    PlanFactory(customer=debtor, start_date=timezone.localdate() - datetime.timedelta(days=100))
    register_schedules()
    assert Schedule.objects.filter(name="check-overdue").update(next_run=timezone.now()) == 1
    alpha, beta = merchants()
    batch = build_batch(alpha, beta, seed=1)

    cluster.start()
    started = time.monotonic()
    codes = post_all(batch)
    waited = wait_until(all_settled, timeout=60, what="every event to be settled", cluster=cluster)

    assert Counter(codes) == {202: 190, 200: 10}
    assert_processed_exactly_once(batch)
    print(f"200 webhooks settled {waited:.1f}s after the last post")

    wait_until(
        lambda: Customer.objects.get(pk=debtor.pk).status == Customer.Status.DEBT_USER,
        timeout=max(5.0, 50 - (time.monotonic() - started)),
        what="the scheduled overdue checker (runs about 30 s after the cluster starts)",
        cluster=cluster,
    )
    assert Installment.objects.filter(plan__customer=debtor, status=Installment.Status.OVERDUE).exists()
    assert AuditEvent.objects.filter(action="overdue.checked").exists()
    assert Schedule.objects.get(name="check-overdue").next_run > timezone.now()
    # The health page reads the checker's last result; the webhook tasks left none of their own.
    wait_until(
        lambda: Task.objects.filter(func="tasks.overdue.run_check_overdue", success=True).exists(),
        timeout=10,
        what="the checker's result to be saved",
        cluster=cluster,
    )
    assert not Task.objects.filter(func=PROCESS_TASK).exists(), "a webhook task kept a result row"


def test_killing_the_cluster_mid_batch_loses_nothing_and_doubles_nothing(cluster):
    alpha, beta = merchants()
    batch = build_batch(alpha, beta, seed=2)
    post_all(batch)  # before the cluster runs: every event is waiting in the broker
    assert OrmQ.objects.count() == len(batch.outcomes)

    cluster.start()
    wait_until(
        lambda: WebhookEvent.objects.filter(status__in=SETTLED).count() >= 5,
        timeout=30,
        what="the first events to be processed",
        cluster=cluster,
        interval=0.02,
    )
    cluster.kill()
    settled_at_kill = WebhookEvent.objects.filter(status__in=SETTLED).count()
    assert settled_at_kill < len(batch.outcomes), "the cluster finished before it was killed: nothing was tested"
    print(f"killed with {settled_at_kill} of {len(batch.outcomes)} events settled; {progress()}")

    # The sweeper queues every event still RECEIVED once more, beside its task still in the broker;
    # the broker also re-delivers the tasks the killed cluster had taken but not acknowledged
    # (after Q_RETRY). Every extra delivery must be harmless.
    assert requeue_stale_events(older_than=datetime.timedelta(0)) == len(batch.outcomes) - settled_at_kill
    cluster.start()
    wait_until(all_settled, timeout=60, what="every event and every re-delivered task", cluster=cluster)

    assert_processed_exactly_once(batch)


# --- refunds that reduce what is owed (rule 8) ---------------------------------------------------

LEDGER_ACTOR = Actor.system("qcluster-test")


def plan_with_first_paid(merchant, *, paid: bool = True) -> Plan:
    """A 300.00 plan in 3 of `merchant`, #1 paid when `paid`."""
    plan = PlanFactory(merchant=merchant, total_amount=Decimal("300.00"))
    if paid:
        first = plan.installments.get(number=1)
        ledger.pay_installments(installment_ids=[first.pk], actor=LEDGER_ACTOR)
    return plan


def issue(plan, amount: str, transaction_id: str) -> Refund:
    return refunds.issue_refund(
        customer_id=plan.customer.customer_id,
        transaction_id=transaction_id,
        amount=amount,
        plan_id=plan.pk,
        actor=LEDGER_ACTOR,
    ).refund


def approve(sender: SignedMerchant, refund: Refund, webhook_id: str):
    return send(
        Client(),
        sender,
        {"refund_id": str(refund.pk), "status": "approved", "merchant_reference": f"R-{webhook_id}"},
        webhook_id=webhook_id,
    )


def amounts(plan) -> list[tuple]:
    return list(
        Installment.objects.filter(plan=plan)
        .order_by("number")
        .values_list("amount_paid", "amount_refunded", "amount_remaining", "status")
    )


def assert_refunds_applied_once() -> None:
    """Every APPROVED refund taken off its plan once: per plan, what its installments had refunded
    is what its approved refunds applied, and each refund moved to APPROVED once."""
    applied = defaultdict(Decimal)
    for refund in Refund.objects.filter(status=Refund.Status.APPROVED):
        assert refund.amount_applied + refund.amount_to_customer == refund.amount, refund
        applied[refund.plan_id] += refund.amount_applied
    refunded = defaultdict(Decimal)
    for plan_id, amount in Installment.objects.values_list("plan_id", "amount_refunded"):
        refunded[plan_id] += amount
    assert {k: v for k, v in refunded.items() if v} == {k: v for k, v in applied.items() if v}
    moves = Counter(
        AuditEvent.objects.filter(action="refund.status_changed", data__to="APPROVED").values_list(
            "target_id", flat=True
        )
    )
    approved = Refund.objects.filter(status=Refund.Status.APPROVED).values_list("pk", flat=True)
    assert moves == Counter({str(pk): 1 for pk in approved})
    assert_ledger_consistent()


def test_a_webhook_approving_a_refund_changes_the_installments_once_even_delivered_twice(cluster):
    """The worked example of rule 8 through the cluster: a 150.00 refund on a 300.00 plan whose
    #1 is paid leaves #2 at 50.00 and #3 CANCELLED, whether the event comes once, its webhook-id
    twice, its task twice, or another approval event after it."""
    alpha = merchant_with_secret("alpha")
    plan = plan_with_first_paid(alpha.merchant)
    refund = issue(plan, "150.00", "txn-rule-8")

    cluster.start()
    assert approve(alpha, refund, "msg_approve").status_code == 202
    assert approve(alpha, refund, "msg_approve").status_code == 200  # the same webhook-id: duplicate
    wait_until(all_settled, timeout=30, what="the approval to be processed", cluster=cluster)
    assert approve(alpha, refund, "msg_approve_again").status_code == 202  # a second report
    enqueue_processing(WebhookEvent.objects.get(webhook_id="msg_approve").pk)  # its task delivered again
    wait_until(all_settled, timeout=30, what="the repeated deliveries to be processed", cluster=cluster)

    D = Decimal
    assert amounts(plan) == [
        (D("100.00"), D("0.00"), D("0.00"), Installment.Status.PAID),
        (D("0.00"), D("50.00"), D("50.00"), Installment.Status.UPCOMING),
        (D("0.00"), D("100.00"), D("0.00"), Installment.Status.CANCELLED),
    ]
    refund.refresh_from_db()
    assert (refund.status, refund.amount_applied, refund.amount_to_customer) == ("APPROVED", D("150.00"), D("0.00"))
    assert Plan.objects.get(pk=plan.pk).status == Plan.Status.ACTIVE
    events = dict(WebhookEvent.objects.values_list("webhook_id", "status"))
    assert events == {"msg_approve": "PROCESSED", "msg_approve_again": "IGNORED"}
    assert set(WebhookEvent.objects.values_list("attempts", flat=True)) == {1}
    assert_refunds_applied_once()


def test_killing_the_cluster_mid_batch_applies_each_refund_exactly_once(cluster):
    """60 plans, half with #1 paid; a refund approved on each, a second one on every third plan
    (together the whole total: the plan is CANCELLED), a second approval event for some refunds
    and a redelivered webhook-id for others. The cluster is killed mid-batch and restarted after
    the sweeper: every event is settled once and every refund taken off its plan once."""
    alpha = merchant_with_secret("alpha")
    plans = [plan_with_first_paid(alpha.merchant, paid=n % 2 == 0) for n in range(60)]
    approvals = []  # (refund, webhook id)
    for n, plan in enumerate(plans):
        approvals.append((issue(plan, "150.00" if n % 3 == 0 else "100.00", f"txn-a-{n}"), f"msg_a_{n}"))
        if n % 3 == 0:
            approvals.append((issue(plan, "150.00", f"txn-b-{n}"), f"msg_b_{n}"))
    pairs = [(f"msg_a_{n}", f"msg_again_{n}") for n in range(0, 60, 4)]  # two reports of one approval
    for webhook_id, again in pairs:
        refund = next(r for r, w in approvals if w == webhook_id)
        approvals.append((refund, again))
    random.Random(3).shuffle(approvals)
    for refund, webhook_id in approvals:
        assert approve(alpha, refund, webhook_id).status_code == 202
    for refund, webhook_id in approvals[:10]:  # the same webhook-ids again
        assert approve(alpha, refund, webhook_id).status_code == 200
    assert OrmQ.objects.count() == len(approvals)

    cluster.start()
    wait_until(
        lambda: WebhookEvent.objects.filter(status__in=SETTLED).count() >= 5,
        timeout=30,
        what="the first events to be processed",
        cluster=cluster,
        interval=0.02,
    )
    cluster.kill()
    settled_at_kill = WebhookEvent.objects.filter(status__in=SETTLED).count()
    assert settled_at_kill < len(approvals), "the cluster finished before it was killed: nothing was tested"
    print(f"killed with {settled_at_kill} of {len(approvals)} events settled; {progress()}")

    assert requeue_stale_events(older_than=datetime.timedelta(0)) == len(approvals) - settled_at_kill
    cluster.start()
    wait_until(all_settled, timeout=60, what="every event and every re-delivered task", cluster=cluster)

    events = dict(WebhookEvent.objects.values_list("webhook_id", "status"))
    assert len(events) == len(approvals)
    paired = {w for pair in pairs for w in pair}
    assert {w: s for w, s in events.items() if w not in paired and s != "PROCESSED"} == {}
    for webhook_id, second in pairs:
        assert sorted([events[webhook_id], events[second]]) == ["IGNORED", "PROCESSED"]
    assert set(WebhookEvent.objects.values_list("attempts", flat=True)) == {1}
    assert not Refund.objects.exclude(status=Refund.Status.APPROVED).exists()
    assert_refunds_applied_once()
    total_applied = sum(Refund.objects.values_list("amount_applied", flat=True))
    total_refunded = sum(Installment.objects.values_list("amount_refunded", flat=True))
    assert total_refunded == total_applied
    for n, plan in enumerate(plans):
        # What each plan still owed (300, less 100 when #1 was paid) comes off once, up to the refunds.
        owed = Decimal("200.00") if n % 2 == 0 else Decimal("300.00")
        refunded = Decimal("300.00") if n % 3 == 0 else Decimal("100.00")
        assert sum(row[1] for row in amounts(plan)) == min(owed, refunded), plan
        expected = Plan.Status.CANCELLED if n % 3 == 0 else Plan.Status.ACTIVE
        assert Plan.objects.get(pk=plan.pk).status == expected, plan
