"""Pages of a sorted table list every row exactly once, also when rows tie on the sorted column.

The database returns rows that tie in whatever order its plan reads them, and the plan changes
with the OFFSET: without a unique last sort key, pages would repeat some rows and skip others
(the same day overdue for thousands of debt users, one status for most customers, one instant
for the 100,000 audit events an overdue check writes).
"""

import datetime

import pytest
from django.db.models import F
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.customers.models import Customer
from bnpl_admin.staff.tables import in_total_order
from tests.pages import first_column, table_rows

pytestmark = pytest.mark.django_db

SAME_DAY = datetime.date(2026, 1, 15)


def _customers(count: int, *, status=Customer.Status.NORMAL, overdue_since=None) -> list[str]:
    ids = [f"tie-{n:03d}" for n in range(count)]
    # Inserted out of order, so that the table's physical order is not the key's.
    Customer.objects.bulk_create(
        Customer(customer_id=cid, full_name="Same Name", status=status, overdue_since=overdue_since)
        for cid in reversed(ids)
    )
    return ids


def _walk(client, url: str, params: dict, pages: int, column=first_column) -> list[str]:
    seen = []
    for page in range(1, pages + 1):
        response = client.get(url, {**params, "page": page})
        assert response.status_code == 200
        seen += column(response)
    return seen


@pytest.mark.parametrize(("sort", "descending"), [("", False), ("-days_overdue", False), ("days_overdue", True)])
def test_risk_review_pages_list_debtors_overdue_since_the_same_day_once_each(risk_client, sort, descending):
    ids = _customers(60, status=Customer.Status.DEBT_USER, overdue_since=SAME_DAY)

    seen = _walk(risk_client, "/risk/", {"sort": sort} if sort else {}, pages=3)

    assert seen == sorted(ids, reverse=descending)


@pytest.mark.parametrize(
    ("sort", "descending"),
    [("status", False), ("-status", True), ("full_name", False), ("-outstanding", True), ("overdue_amount", False)],
)
def test_customer_list_pages_sorted_by_a_shared_value_list_each_customer_once(support_client, sort, descending):
    ids = _customers(60)

    seen = _walk(support_client, "/customers/", {"sort": sort}, pages=3)

    assert seen == sorted(ids, reverse=descending)


def test_audit_log_pages_list_events_of_one_instant_once_each_newest_first(risk_client):
    at = timezone.now()
    AuditEvent.objects.bulk_create(
        AuditEvent(
            at=at,
            actor_kind="system",
            actor_label="overdue-checker",
            action="customer.status_changed",
            target_type="customer",
            target_id=f"tie-{n:03d}",
            customer_ref=f"tie-{n:03d}",
        )
        for n in range(120)
    )
    newest_first = list(AuditEvent.objects.order_by("-id").values_list("target_id", flat=True))

    def targets(response):
        return [cells[3].removeprefix("customer ") for cells in table_rows(response)]

    assert _walk(risk_client, "/audit/", {}, pages=3, column=targets) == newest_first
    assert _walk(risk_client, "/audit/", {"action": "customer.status_changed"}, pages=3, column=targets) == newest_first
    assert _walk(risk_client, "/audit/", {"sort": "at"}, pages=3, column=targets) == newest_first[::-1]


# --- the ordering itself -------------------------------------------------------------------------


def _order(queryset) -> tuple:
    return tuple(str(term) if not isinstance(term, str) else term for term in queryset.query.order_by)


def test_the_key_is_appended_in_the_direction_of_the_first_sort_key():
    assert _order(in_total_order(Customer.objects.order_by("status"), "customer_id")) == ("status", "customer_id")
    assert _order(in_total_order(Customer.objects.order_by("-created_at"), "customer_id")) == (
        "-created_at",
        "-customer_id",
    )
    assert _order(in_total_order(AuditEvent.objects.order_by("-at"), "pk")) == ("-at", "-pk")
    descending = in_total_order(Customer.objects.order_by(F("overdue_since").desc(nulls_last=True)), "customer_id")
    assert _order(descending)[-1] == "-customer_id"


def test_an_order_that_already_holds_the_key_is_left_as_it_is():
    for queryset, key in [
        (Customer.objects.order_by("-customer_id"), "customer_id"),
        (Customer.objects.order_by("status", "customer_id", "full_name"), "customer_id"),
        (AuditEvent.objects.order_by("-at", "-id"), "pk"),
        (AuditEvent.objects.order_by("at", "pk"), "pk"),
        (Customer.objects.order_by(F("customer_id").asc()), "customer_id"),
    ]:
        assert in_total_order(queryset, key).query.order_by == queryset.query.order_by


def test_a_models_default_order_is_completed_unless_total_and_a_random_or_no_order_is_left_alone():
    assert AuditEvent._meta.ordering == ["-at", "-id"]  # already total: unchanged
    assert in_total_order(AuditEvent.objects.all(), "pk").query.order_by == ()
    assert _order(in_total_order(Customer.objects.all(), "pk")) == ("customer_id", "pk")  # from Meta.ordering
    assert _order(in_total_order(Customer.objects.order_by("?"), "pk")) == ("?",)
    assert _order(in_total_order(Customer.objects.order_by(), "pk")) == ()
