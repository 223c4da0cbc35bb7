"""The benchmark's ceiling project (bench/ceiling), the report's figures relative to it, and the
data set's approved refunds."""

import datetime
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bench.dataset import _approve
from bench.measure import Row
from bench.report import ceiling_for, machine_scale, relative_to_ceilings

ROOT = Path(__file__).resolve().parent.parent

# Under the ceiling settings, in a process of its own (this one runs the application's settings),
# on an in-memory SQLite database holding a customers table of 30 rows.
PROBE = """
import json, sys
import django
django.setup()
from django.db import connection
from django.test import Client
from django.urls import resolve

with connection.cursor() as cursor:
    cursor.execute(
        "CREATE TABLE customers_customer (id integer PRIMARY KEY, customer_id varchar(64), full_name text, "
        "status varchar(16), created_at datetime)"
    )
    for n in range(1, 31):
        cursor.execute(
            "INSERT INTO customers_customer VALUES (%s, %s, 'x', 'NORMAL', '2025-01-01 00:00:00')",
            [n, f"usr-{n:07d}"],
        )
client = Client(HTTP_HOST="localhost")
ok = client.get("/ok")
pk = client.get("/pk/7")
keyset = client.get("/keyset", {"after": "usr-0000005"})
print(json.dumps({
    "views": [resolve(p).url_name for p in ("/ok", "/pk/7", "/keyset")],
    "ok": [ok.status_code, ok.content.decode()],
    "pk": [pk.status_code, pk.json()],
    "missing": client.get("/pk/999").status_code,
    "keyset": [keyset.status_code, [row["customer_id"] for row in keyset.json()]],
    "app_loaded": any(name.startswith("bnpl_admin") for name in sys.modules),
}))
"""


def test_the_ceiling_project_serves_its_three_views_without_the_application():
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "bench.ceiling.settings",
            "DATABASE_URL": "sqlite://:memory:",
        },
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["views"] == ["ok", "pk", "keyset"]
    assert out["ok"] == [200, "ok"]
    assert out["pk"] == [
        200,
        {"id": 7, "customer_id": "usr-0000007", "status": "NORMAL", "created_at": "2025-01-01T00:00:00Z"},
    ]
    assert out["missing"] == 404
    assert out["keyset"] == [200, [f"usr-{n:07d}" for n in range(6, 26)]]
    assert out["app_loaded"] is False


@pytest.mark.parametrize(
    ("name", "ceiling"),
    [
        ("API GET /api/v1/users/ (page 1)", "keyset"),
        ("API users ?after=<key> (keyset, page 2000)", "keyset"),
        ("API GET /api/v1/debt/usr-0000001/", "pk"),
        ("Page /customers/ by status, sorted", "ok"),
        ("Page /health/ panels (HX-Request)", "ok"),
        ("API POST /api/v1/plans/ (a new customer each)", None),
        ("Webhook POST /webhook/refund-status/ (signed, unique ids)", None),
        ("Overdue checker (set-based), time", None),
    ],
)
def test_each_read_figure_is_read_against_its_ceiling(name, ceiling):
    assert ceiling_for(name) == ceiling


def _ceiling(key, rps):
    return Row(f"Ceiling: {key}", "", "", None, extra={"ceiling": key, "rps": rps})


def test_read_figures_are_given_as_a_share_of_the_ceilings_of_the_same_run():
    rows = [
        _ceiling("ok", 2950),
        _ceiling("pk", 1350),
        _ceiling("keyset", 620),
        Row("API GET /api/v1/users/ (page 1)", "", "", True, extra={"rps": 434}),
        Row("API GET /api/v1/debt/usr-0000001/", "", "", True, extra={"rps": 675}),
        Row("Page /risk/ (risk user)", "", "", False, extra={"rps": 295}),
        Row("Page /customers/ by status, sorted", "HTTP 500", "200", False),  # failed: no figure
        Row("API POST /api/v1/plans/ (a new customer each)", "", "", True, extra={"rps": 300}),
    ]

    text = "\n".join(relative_to_ceilings(rows))

    assert machine_scale(2950) == 0.5
    assert "= **0.50**" in text
    assert "900 req/s → 450" in text
    assert "| API GET /api/v1/users/ (page 1) | 434 | **70%** of DRF keyset page (620) |" in text
    assert "| API GET /api/v1/debt/usr-0000001/ | 675 | **50%** of one pk query as JSON (1,350) |" in text
    assert "| Page /risk/ (risk user) | 295 | **10%** of view returning ok (2,950) |" in text
    assert "by status" not in text
    assert "plans" not in text


def test_nothing_is_added_without_a_ceiling_in_the_run():
    assert relative_to_ceilings([Row("Page /risk/ (risk user)", "", "", False, extra={"rps": 295})]) == []


# The data set's refunds: an APPROVED one is applied (rule 8) to its plan's rows before the COPY.


def _rows(statuses):
    """Three installments of 100.00 as the data set generates them, PAID or UPCOMING."""
    rows = []
    for n, status in enumerate(statuses, start=1):
        paid = Decimal("100.00") if status == "PAID" else Decimal("0.00")
        paid_at = datetime.datetime(2026, n, 1, 12, tzinfo=datetime.UTC) if status == "PAID" else None
        rows.append((10 + n, n, Decimal("100.00"), datetime.date(2026, n, 1), status, paid, Decimal("0.00"), paid_at))
    return rows


NOW = datetime.datetime(2026, 12, 1, 12, tzinfo=datetime.UTC)


def test_an_approved_refund_is_taken_off_the_last_installments_and_the_rest_is_owed_back():
    rows, plan_status, applied, to_customer = _approve(
        _rows(["PAID", "UPCOMING", "UPCOMING"]), "ACTIVE", Decimal("300.00"), Decimal("250.00"), NOW
    )

    # 200.00 remained (installments 2 and 3): all of it is taken off, 50.00 goes back to the customer.
    assert (applied, to_customer) == (Decimal("200.00"), Decimal("50.00"))
    assert [(r[4], r[5], r[6]) for r in rows] == [
        ("PAID", Decimal("100.00"), Decimal("0.00")),
        ("CANCELLED", Decimal("0.00"), Decimal("100.00")),
        ("CANCELLED", Decimal("0.00"), Decimal("100.00")),
    ]
    assert rows[0][7] is not None and rows[1][7] is None
    assert plan_status == "COMPLETED"  # nothing remaining, refunds below the total


def test_a_partial_refund_leaves_the_plan_active_and_a_refund_of_the_total_cancels_it():
    rows, plan_status, applied, to_customer = _approve(
        _rows(["UPCOMING", "UPCOMING", "UPCOMING"]), "ACTIVE", Decimal("300.00"), Decimal("150.00"), NOW
    )
    assert (applied, to_customer, plan_status) == (Decimal("150.00"), Decimal("0.00"), "ACTIVE")
    assert [(r[4], r[6]) for r in rows] == [
        ("UPCOMING", Decimal("0.00")),
        ("UPCOMING", Decimal("50.00")),
        ("CANCELLED", Decimal("100.00")),
    ]

    _, plan_status, applied, to_customer = _approve(
        _rows(["PAID", "PAID", "PAID"]), "COMPLETED", Decimal("300.00"), Decimal("300.00"), NOW
    )
    assert (applied, to_customer, plan_status) == (Decimal("0.00"), Decimal("300.00"), "CANCELLED")
