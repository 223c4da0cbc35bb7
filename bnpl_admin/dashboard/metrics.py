"""What the live dashboard shows: business figures (cached), system checks (live), chart data.

Business figures are aggregates over the big tables, so they are computed at most once a minute
(a schedule keeps the cache warm) instead of on every 5-second refresh of every open dashboard.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, Q, Sum
from django.template.defaultfilters import pluralize
from django.utils import timezone

from bnpl_admin.customers.models import Customer
from bnpl_admin.dashboard.health import database_round_trip, running_clusters
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.refunds.models import Refund
from bnpl_admin.webhooks.models import WebhookEvent

FIGURES_CACHE_KEY = "dashboard:figures:v1"
FIGURES_TTL = 120  # seconds; the refresh schedule runs every minute
CHART_DAYS = 30

GREEN, AMBER, RED = "green", "amber", "red"


def compute_figures(*, today: datetime.date | None = None) -> dict:
    """Every business figure of the dashboard, from the database (a handful of aggregate queries)."""
    today = today or timezone.localdate()
    customers = dict(Customer.objects.order_by().values_list("status").annotate(n=Count("id")))
    overdue = Installment.objects.filter(status=Installment.Status.OVERDUE).aggregate(
        n=Count("id"), total=Sum("amount_remaining")
    )
    refund_rows = Refund.objects.order_by().values_list("status").annotate(n=Count("id"), total=Sum("amount"))
    refunds = {status: (n, total) for status, n, total in refund_rows}
    since = timezone.now() - datetime.timedelta(hours=24)
    events = dict(
        WebhookEvent.objects.filter(received_at__gte=since).order_by().values_list("status").annotate(n=Count("id"))
    )
    window = (
        Installment.objects.filter(
            due_date__gte=today - datetime.timedelta(days=CHART_DAYS),
            due_date__lte=today + datetime.timedelta(days=CHART_DAYS),
        )
        .order_by()
        .values_list("due_date", "status")
        .annotate(n=Count("id"))
    )
    by_day: dict[str, dict[str, int]] = {}
    for due, status, n in window:
        by_day.setdefault(due.isoformat(), {})[status] = n
    return {
        "computed_at": timezone.now().isoformat(),
        "customers": {
            "total": sum(customers.values()),
            "normal": customers.get(Customer.Status.NORMAL, 0),
            "debt": customers.get(Customer.Status.DEBT_USER, 0),
        },
        "active_plans": Plan.objects.filter(status=Plan.Status.ACTIVE).count(),
        "overdue": {"count": overdue["n"] or 0, "amount": str(overdue["total"] or Decimal("0.00"))},
        "refunds": {status: refunds.get(status, (0, None))[0] for status in Refund.Status.values},
        "refund_amounts": {
            status: str(refunds.get(status, (0, None))[1] or Decimal("0.00")) for status in Refund.Status.values
        },
        "events_24h": {status: events.get(status, 0) for status in WebhookEvent.Status.values},
        "installments_by_day": by_day,
    }


def refresh_figures() -> dict:
    figures = compute_figures()
    cache.set(FIGURES_CACHE_KEY, figures, FIGURES_TTL)
    return figures


def business_figures() -> dict:
    """The cached figures, computed now when the cache is cold."""
    figures = cache.get(FIGURES_CACHE_KEY)
    return figures if figures is not None else refresh_figures()


@dataclass(frozen=True)
class Check:
    name: str
    state: str  # green | amber | red
    value: str
    note: str = ""


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


CHECKS_TTL = 5.0  # seconds: the dashboard polls every 5 s
TIMING_CHECK = "Checks took"


def recent_system_checks() -> list[Check]:
    """`system_checks()`, run by each web process at most every CHECKS_TTL seconds.

    Every open dashboard polls every 5 seconds; the checks are about ten queries, so N viewers
    cost N times that without this. The last check (their timing) says how old they are.
    """
    from django.core.cache import caches

    local = caches["process"]
    remembered = local.get("dashboard:checks")
    if remembered is None:
        remembered = (time.time(), system_checks())
        local.set("dashboard:checks", remembered, CHECKS_TTL)
    checked_at, checks = remembered
    *others, last = checks
    if last.name == TIMING_CHECK:
        last = dataclasses.replace(last, note=f"checked {_age(time.time() - checked_at)} ago")
    return [*others, last]


def system_checks() -> list[Check]:
    """Live checks, each with a state and the number behind it (cheap indexed queries)."""
    from django_q.models import Failure, OrmQ, Schedule, Task

    now = timezone.now()
    checks = []
    started = time.perf_counter()
    database_ms = database_round_trip()
    if database_ms is None:
        return [Check("Database", RED, "not answering")]
    state = GREEN if database_ms < 50 else AMBER if database_ms < 250 else RED
    checks.append(Check("Database round trip", state, f"{database_ms:.1f} ms"))

    clusters = running_clusters()
    checks.append(
        Check(
            "Task cluster",
            GREEN if clusters else RED,
            "unknown" if clusters is None else f"{clusters} running",
            "" if clusters else "start it with: manage.py qcluster",
        )
    )
    queued = OrmQ.objects.count()
    checks.append(Check("Tasks queued", GREEN if queued < 100 else AMBER if queued < 1000 else RED, str(queued)))
    failed = Failure.objects.filter(stopped__gte=now - datetime.timedelta(hours=24)).count()
    checks.append(Check("Failed tasks (24 h)", GREEN if failed == 0 else AMBER if failed < 10 else RED, str(failed)))

    last = Task.objects.filter(func="tasks.overdue.run_check_overdue").order_by("-stopped").first()
    schedule = Schedule.objects.filter(name="check-overdue").first()
    grace = f"grace {settings.OVERDUE_GRACE_DAYS} day{pluralize(settings.OVERDUE_GRACE_DAYS)}"
    if last is None:
        checks.append(Check("Overdue checker", AMBER, "has not run yet", f"{grace}; {_next_run(schedule, now)}"))
    else:
        age = (now - last.stopped).total_seconds()
        state = RED if not last.success or age > 30 * 60 else AMBER if age > 11 * 60 else GREEN
        result = last.result if isinstance(last.result, dict) else {}
        changed = (
            f"{result.get('installments_marked_overdue', '?')} installments overdue, "
            f"{result.get('customers_marked_debt', '?')} customers to debt"
            if last.success
            else "failed"
        )
        checks.append(
            Check("Overdue checker", state, f"{_age(age)} ago", f"{changed}; {grace}; {_next_run(schedule, now)}")
        )

    backlog = WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED).aggregate(
        n=Count("id"), oldest=Min("received_at")
    )
    oldest = (now - backlog["oldest"]).total_seconds() if backlog["oldest"] else 0
    state = GREEN if oldest < 60 else AMBER if oldest < 300 else RED
    checks.append(
        Check("Webhook backlog", state, str(backlog["n"]), f"oldest waiting {_age(oldest)}" if backlog["n"] else "")
    )
    failed_events = WebhookEvent.objects.filter(
        Q(status=WebhookEvent.Status.FAILED), received_at__gte=now - datetime.timedelta(hours=24)
    ).count()
    checks.append(Check("Failed webhook events (24 h)", GREEN if failed_events == 0 else AMBER, str(failed_events)))
    checks.append(Check(TIMING_CHECK, GREEN, f"{(time.perf_counter() - started) * 1000:.0f} ms"))
    return checks


def _next_run(schedule, now) -> str:
    if schedule is None or schedule.next_run is None:
        return "not scheduled"
    seconds = (schedule.next_run - now).total_seconds()
    return f"next in {_age(seconds)}" if seconds >= 0 else f"due {_age(-seconds)} ago"
