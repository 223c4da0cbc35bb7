"""The live health dashboard: figures that match the database, checks, charts, the page."""

import datetime
import io

import pytest
from django.core.cache import cache, caches
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone
from django_q.models import Schedule

from bnpl_admin.customers.models import Customer
from bnpl_admin.dashboard import charts, metrics
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.refunds.models import Refund
from bnpl_admin.webhooks.models import Merchant, WebhookEvent
from tests.dashboard import health_check
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cold_cache():
    cache.delete(metrics.FIGURES_CACHE_KEY)


@pytest.fixture
def seeded():
    call_command("seed_demo", "--customers", "120", "--seed", "3", stdout=io.StringIO())


def test_the_business_figures_match_the_database(seeded):
    figures = metrics.compute_figures()

    assert figures["customers"]["total"] == Customer.objects.count() == 120
    assert figures["customers"]["debt"] == Customer.objects.filter(status="DEBT_USER").count() > 0
    assert figures["customers"]["normal"] == Customer.objects.filter(status="NORMAL").count()
    assert figures["active_plans"] == Plan.objects.filter(status="ACTIVE").count()
    overdue = Installment.objects.filter(status="OVERDUE")
    assert figures["overdue"]["count"] == overdue.count() > 0
    assert figures["overdue"]["amount"] == str(overdue.aggregate(total=Sum("amount_due"))["total"])
    for status in Refund.Status.values:
        assert figures["refunds"][status] == Refund.objects.filter(status=status).count()
    today = timezone.localdate()
    window = Installment.objects.filter(
        due_date__gte=today - datetime.timedelta(days=30), due_date__lte=today + datetime.timedelta(days=30)
    )
    assert sum(sum(day.values()) for day in figures["installments_by_day"].values()) == window.count()


def test_figures_are_served_from_the_cache_until_refreshed(seeded, django_assert_num_queries):
    first = metrics.business_figures()
    Customer.objects.filter(pk=Customer.objects.filter(status="NORMAL").first().pk).update(status="DEBT_USER")

    with django_assert_num_queries(1):  # the cache read only
        assert metrics.business_figures() == first

    refreshed = metrics.refresh_figures()
    assert refreshed["customers"]["debt"] == first["customers"]["debt"] + 1
    assert metrics.business_figures() == refreshed


def test_webhook_events_of_the_last_24_hours_are_counted_by_status():
    merchant = Merchant.objects.create(code="m", name="M", webhook_secret_encrypted="x")
    WebhookEvent.objects.create(merchant=merchant, webhook_id="a", payload={}, status="PROCESSED")
    old = WebhookEvent.objects.create(merchant=merchant, webhook_id="b", payload={}, status="FAILED")
    WebhookEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - datetime.timedelta(days=2))

    figures = metrics.compute_figures()

    assert figures["events_24h"]["PROCESSED"] == 1
    assert figures["events_24h"]["FAILED"] == 0


def test_the_checks_report_the_database_and_a_missing_cluster():
    database = health_check("Database round trip")
    cluster = health_check("Task cluster")

    assert database.state == metrics.GREEN and database.value.endswith(" ms")
    assert cluster.state == metrics.RED and "0 running" in cluster.value


def test_an_old_waiting_webhook_event_turns_the_backlog_red():
    merchant = Merchant.objects.create(code="m", name="M", webhook_secret_encrypted="x")
    event = WebhookEvent.objects.create(merchant=merchant, webhook_id="a", payload={})
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - datetime.timedelta(minutes=10))

    backlog = health_check("Webhook backlog")

    assert backlog.value == "1"
    assert backlog.state == metrics.RED
    assert "10 min" in backlog.note


def test_the_overdue_checker_check_says_when_it_runs_next():
    Schedule.objects.filter(name="check-overdue").update(next_run=timezone.now() + datetime.timedelta(minutes=4))

    checker = health_check("Overdue checker")

    assert checker.value == "has not run yet"
    assert "next in" in checker.note


def test_the_refund_chart_scales_bars_to_the_biggest_count():
    chart = charts.refunds_by_status({"PENDING": 10, "PROCESSING": 5, "APPROVED": 0, "REJECTED": 1})
    widths = {bar["label"]: bar["width"] for bar in chart["bars"]}

    assert widths["Pending"] > widths["Processing"] > widths["Rejected"] > widths["Approved"] == 0
    assert widths["Pending"] == chart["width"] - chart["label_width"] - 56


def test_the_installment_chart_stacks_each_day_and_marks_today():
    today = datetime.date(2026, 11, 26)
    chart = charts.installments_by_day(
        {"2026-11-20": {"PAID": 2, "OVERDUE": 1}, "2026-12-01": {"UPCOMING": 3}}, today=today
    )

    assert len(chart["bars"]) == 3
    assert chart["max"] == 3
    assert dict((label, n) for label, _, n in chart["legend"]) == {
        "Paid": 2,
        "Overdue": 1,
        "Upcoming": 3,
        "Cancelled": 0,
    }
    assert 0 < chart["today_x"] < chart["width"]


def test_any_signed_in_staff_member_sees_the_page(client, seeded):
    client.force_login(UserFactory.support())

    response = client.get("/health/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Database round trip" in html and "Overdue installments" in html and "<svg" in html
    assert 'data-poll="5000"' in html
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_htmx_polls_get_only_the_panels(client):
    client.force_login(UserFactory.support())

    html = client.get("/health/", headers={"HX-Request": "true"}).content.decode()

    assert html.lstrip().startswith('<div id="panels"')
    assert "<html" not in html


def test_anonymous_users_are_sent_to_login(client):
    response = client.get("/health/")

    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_the_dashboard_runs_the_checks_at_most_every_few_seconds_and_says_how_old_they_are(
    django_assert_max_num_queries,
):
    first = metrics.recent_system_checks()
    merchant = Merchant.objects.create(code="m", name="M", webhook_secret_encrypted="x")
    WebhookEvent.objects.create(merchant=merchant, webhook_id="a", payload={})

    with django_assert_max_num_queries(0):
        again = metrics.recent_system_checks()

    backlog = next(check for check in again if check.name == "Webhook backlog")
    assert backlog.value == "0"  # the remembered figure: at most CHECKS_TTL seconds old
    assert again[-1].name == "Checks took" and again[-1].note.startswith("checked ") and again[-1].note.endswith(" ago")
    assert [c.name for c in again] == [c.name for c in first]

    caches["process"].clear()  # CHECKS_TTL has passed
    backlog = next(check for check in metrics.recent_system_checks() if check.name == "Webhook backlog")
    assert backlog.value == "1"
