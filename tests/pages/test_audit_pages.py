"""The audit log page: who may read it, its filters, the HTMX fragment and the CSV export."""

import datetime
import re

import pytest
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from tests.pages import (
    HTMX,
    assert_fragment,
    assert_refused,
    csv_rows,
    html_of,
    is_login_redirect,
    table_rows,
)

pytestmark = pytest.mark.django_db


def _at(days_ago: int) -> datetime.datetime:
    """Noon, local time, `days_ago` days before today."""
    day = timezone.localdate() - datetime.timedelta(days=days_ago)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


def _event(*, days_ago, actor, action, customer="", data=None):
    return AuditEvent.objects.create(
        at=_at(days_ago),
        actor_kind="system" if actor == "system" else "staff",
        actor_label=actor,
        action=action,
        target_type="customer" if customer else "overdue_check",
        target_id=customer or "check",
        customer_ref=customer,
        data=data or {},
    )


@pytest.fixture
def events(db):
    return [
        _event(days_ago=10, actor="alice", action="plan.created", customer="usr-001", data={"total_amount": "500.00"}),
        _event(days_ago=5, actor="bob", action="refund.issued", customer="usr-002", data={"amount": "75.00"}),
        _event(days_ago=1, actor="alice", action="customer.status_changed", customer="usr-002", data={"to": "NORMAL"}),
        _event(days_ago=0, actor="system", action="overdue.checked", data={"installments_marked_overdue": 3}),
    ]


def actions(response) -> list[str]:
    """The actions of the rows, by the code each one's words carry in their title."""
    html = response if isinstance(response, str) else html_of(response)
    return re.findall(r'<td\s*><span title="([a-z_.]+)">', html.split("<tbody", 1)[-1])


# --- permissions -------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login(client_for, events):
    assert is_login_redirect(client_for("anonymous").get("/audit/"), "/audit/")


@pytest.mark.parametrize("role", ["nobody", "support"])
def test_users_without_the_risk_role_get_the_no_access_page(client_for, events, role):
    browser = client_for(role)

    assert_refused(browser.get("/audit/"))
    assert_refused(browser.get("/audit/", {"_export": "csv"}))
    assert_refused(browser.get("/audit/", headers=HTMX))


@pytest.mark.parametrize("role", ["risk", "admin"])
def test_risk_officers_and_superusers_read_the_audit_log(client_for, events, role):
    response = client_for(role).get("/audit/")

    assert response.status_code == 200
    assert actions(response) == ["overdue.checked", "customer.status_changed", "refund.issued", "plan.created"]


# --- filters -----------------------------------------------------------------------------------


def test_the_log_filters_by_part_of_the_actor_name(risk_client, events):
    response = risk_client.get("/audit/", {"actor": "ALI"})

    assert actions(response) == ["customer.status_changed", "plan.created"]


def test_the_log_filters_by_action(risk_client, events):
    response = risk_client.get("/audit/", {"action": "refund.issued"})

    assert actions(response) == ["refund.issued"]


def test_the_action_filter_offers_the_recorded_actions(risk_client, events):
    html = html_of(risk_client.get("/audit/"))

    for event in events:
        assert f'<option value="{event.action}">' in html


def test_the_log_filters_by_exact_customer_id(risk_client, events):
    _event(days_ago=2, actor="carol", action="plan.created", customer="usr-0021")

    response = risk_client.get("/audit/", {"customer": "usr-002"})

    assert actions(response) == ["customer.status_changed", "refund.issued"]


def test_the_log_filters_by_a_date_range_including_both_ends(risk_client, events):
    today = timezone.localdate()

    response = risk_client.get(
        "/audit/",
        {"date_from": f"{today - datetime.timedelta(days=5)}", "date_to": f"{today - datetime.timedelta(days=1)}"},
    )

    assert actions(response) == ["customer.status_changed", "refund.issued"]


def test_the_log_filters_from_a_date_only(risk_client, events):
    response = risk_client.get("/audit/", {"date_from": f"{timezone.localdate()}"})

    assert actions(response) == ["overdue.checked"]


def test_the_filters_combine(risk_client, events):
    response = risk_client.get("/audit/", {"actor": "alice", "customer": "usr-002"})

    assert actions(response) == ["customer.status_changed"]


@pytest.mark.parametrize(
    "query", [{"date_from": "not-a-date"}, {"action": "no.such.action"}, {"date_to": "2024-13-45"}]
)
def test_invalid_filter_values_do_not_break_the_page(risk_client, events, query):
    response = risk_client.get("/audit/", query)

    assert response.status_code == 200


def test_the_log_shows_the_event_details_and_links_the_customer(risk_client, events):
    response = risk_client.get("/audit/", {"action": "refund.issued"})
    html = html_of(response)

    assert table_rows(response)[0][1:] == ["bob", "Refund issued", "customer usr-002", "usr-002", "amount: 75.00"]
    assert '<a href="/customers/usr-002/">usr-002</a>' in html


def test_events_read_as_sentences_with_amounts_in_their_currency(risk_client, db):
    _event(
        days_ago=0,
        actor="alice",
        action="customer.status_changed",
        customer="usr-009",
        data={"from": "NORMAL", "to": "DEBT_USER", "reason": "Overdue installment"},
    )
    _event(
        days_ago=0,
        actor="alice",
        action="plan.created",
        customer="usr-009",
        data={"total_amount": "6993667.00", "installment_count": 3, "start_date": "2026-09-10"},
    )
    plan_id = "3a3c8a71-ff57-4e2b-8991-ab9bebc2026f"
    _event(days_ago=0, actor="bob", action="refund.issued", customer="usr-009", data={
        "transaction_id": "txn-9", "amount": "150000.00", "plan_id": plan_id, "merchant": None,
    })  # fmt: skip

    response = risk_client.get("/audit/", {"customer": "usr-009"})
    details = {cells[2]: cells[5] for cells in table_rows(response)}

    assert details == {
        "Status changed": "Status changed from Normal to Debt user: Overdue installment",
        "Plan created": "Plan of 6,993,667.00 UZS in 3 installments created, from 2026-09-10",
        "Refund issued": "Refund txn-9 of 150,000.00 UZS issued",
    }
    assert "plan_id" not in html_of(response) and "None" not in html_of(response)


def test_an_htmx_filter_request_returns_only_the_table(risk_client, events):
    response = risk_client.get("/audit/", {"actor": "bob"}, headers=HTMX)

    html = assert_fragment(response)
    assert actions(html) == ["refund.issued"]
    assert 'name="actor"' not in html


def test_the_csv_export_has_the_filtered_events(risk_client, events):
    response = risk_client.get("/audit/", {"actor": "alice", "_export": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "audit-log.csv" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert [row["Action"] for row in rows] == ["customer.status_changed", "plan.created"]
    assert {row["Actor"] for row in rows} == {"alice"}
    assert rows[0]["Customer"] == "usr-002"
    assert "NORMAL" in rows[0]["Details"]
