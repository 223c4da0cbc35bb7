"""The collections pages (rules 10-12) through HTTP: the bucket strip of /risk/ and /health/, the
bucket filter, the queue of open cases, a case's page and its forms, and the profile's case panel."""

import datetime
import re
from decimal import Decimal
from html import unescape

import pytest
from django.test import Client
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.collection import portfolio, services
from bnpl_admin.collection.models import Case, CaseNote, PromiseToPay
from bnpl_admin.customers import services as customer_services
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans import ledger
from bnpl_admin.plans.services import check_overdue
from bnpl_admin.staff.models import FormSubmission
from tests.factories import CustomerFactory, PlanFactory, UserFactory
from tests.pages import (
    HTMX,
    assert_fragment,
    assert_refused,
    first_column,
    html_of,
    messages_of,
    table_rows,
    token_of,
)
from tests.pages.conftest import _user_for

pytestmark = pytest.mark.django_db
D = Decimal
AS_OF = datetime.date(2026, 12, 1)
RAW_CARD = "4111 1111 1111 1111"


# Signed-in clients, as tests/pages/conftest.py makes them (its fixtures are not visible from here).


@pytest.fixture
def client_for(db):
    def make(role: str) -> Client:
        browser = Client()
        if role != "anonymous":
            browser.user = _user_for(role)
            browser.force_login(browser.user)
        return browser

    return make


@pytest.fixture
def risk_client(client_for):
    return client_for("risk")


@pytest.fixture
def support_client(client_for):
    return client_for("support")


def strip_of(response) -> dict:
    """The bucket strip of a page: {bucket: (customers, outstanding)} and {30: "35.57 %", ...}."""
    html = html_of(response)
    buckets = {}
    for label, body in re.findall(r'data-bucket="([^"]+)"(.*?)</(?:a|div)>', html, re.S):
        customers = re.search(r'data-figure="customers">([^<]*)<', body).group(1)
        outstanding = re.search(r'data-figure="outstanding">([^<]*)<', body).group(1)
        count = int(customers.split()[0].replace(",", ""))
        buckets[unescape(label)] = (count, D(outstanding.removesuffix(" UZS").replace(",", "")))
    par = {
        int(days): " ".join(value.split())
        for days, value in re.findall(r'data-par="(\d+)".*?class="strip-value">([^<]*)<', html, re.S)
    }
    return {"buckets": buckets, "par": par}


@pytest.fixture
def book(actor):
    """The fixture of tests/collection/test_portfolio.py, as of 2026-12-01 (DPD: days since the
    oldest overdue due date):
    A 300.00 in 3, #1 due 11-16 (DPD 15), 50.00 paid       -> 1-30, 250.00 outstanding
    B 600.00 in 3, #1 due 10-17 and #2 11-17 (DPD 45)      -> 31-60, 600.00
    C  90.00 in 3, all due by 08-23 (DPD 161)              -> 90+, 90.00
    D 1000.00 in 2, first due 12-20                         -> not past due, 1000.00
    Total 1,940.00; PAR30 = 690/1940 = 35.57 %; PAR60 = PAR90 = 90/1940 = 4.64 %."""
    a = PlanFactory(total_amount=D("300.00"), start_date=datetime.date(2026, 10, 16))
    PlanFactory(total_amount=D("600.00"), start_date=datetime.date(2026, 9, 17))
    PlanFactory(total_amount=D("90.00"), start_date=datetime.date(2026, 5, 23))
    PlanFactory(total_amount=D("1000.00"), installment_count=2, start_date=datetime.date(2026, 11, 20))
    check_overdue(as_of=AS_OF)
    ledger.record_payment(customer_id=a.customer.customer_id, amount="50.00", reference="a-1", actor=actor)
    portfolio.refresh(AS_OF)


HAND_COMPUTED = {
    "buckets": {
        "1-30": (1, D("250.00")),
        "31-60": (1, D("600.00")),
        "61-90": (0, D("0.00")),
        "90+": (1, D("90.00")),
    },
    "par": {30: "35.57 %", 60: "4.64 %", 90: "4.64 %"},
}


# --- the bucket strip ------------------------------------------------------------------------------


def test_the_risk_strip_shows_the_hand_computed_buckets_and_par(risk_client, book):
    response = risk_client.get("/risk/")

    assert strip_of(response) == HAND_COMPUTED
    assert "As of 2026-12-01" in html_of(response)


def test_the_risk_page_the_dashboard_and_compute_agree(risk_client, book):
    figures = portfolio.compute(AS_OF)
    computed = {
        "buckets": {row["bucket"]: (row["customers"], row["outstanding"]) for row in figures["buckets"]},
        "par": {days: f"{(figures[f'par{days}'] * 100).quantize(D('0.01'))} %" for days in (30, 60, 90)},
    }
    health = risk_client.get("/health/")

    assert strip_of(risk_client.get("/risk/")) == strip_of(health) == computed == HAND_COMPUTED
    chart = re.findall(r'class="chart-value">([^<]+) UZS</text>', html_of(health))
    assert chart[:4] == ["250.00", "600.00", "0.00", "90.00"]  # the bucket chart, before the refunds'


def test_the_strip_reads_the_stored_snapshot_not_the_installments(risk_client, book):
    """Another debtor after the snapshot changes nothing on the page until the next refresh."""
    PlanFactory(total_amount=D("900.00"), start_date=datetime.date(2026, 5, 1))
    check_overdue(as_of=AS_OF)

    assert strip_of(risk_client.get("/risk/")) == HAND_COMPUTED
    portfolio.refresh(AS_OF)
    assert strip_of(risk_client.get("/risk/"))["buckets"]["90+"] == (2, D("990.00"))


def test_before_the_first_check_the_strip_says_when_figures_appear(risk_client, db):
    for path in ("/risk/", "/health/"):
        assert "appear after the first overdue check" in html_of(risk_client.get(path))


def test_an_htmx_table_swap_does_not_render_the_strip(risk_client, book):
    html = assert_fragment(risk_client.get("/risk/", {"sort": "total_overdue"}, headers=HTMX))
    assert "data-bucket" not in html and "PAR30" not in html


# --- bucket filter and column on /risk/ ------------------------------------------------------------


@pytest.fixture
def debtors(db):
    """DEBT_USER customers past due about 10, 40, 70 and 130 days (plans started a month earlier)."""
    today = timezone.localdate()
    ids = {}
    for days in (10, 40, 70, 130):
        customer = CustomerFactory(customer_id=f"dpd-{days:03d}")
        PlanFactory(customer=customer, total_amount=D("400.00"), installment_count=4, start_date=today)
        customer.installments.filter(number=1).update(due_date=today - datetime.timedelta(days=days))
        ids[customer.customer_id] = days
    check_overdue(as_of=today)
    return ids


@pytest.mark.parametrize(
    ("bucket", "expected"),
    [("1-30", ["dpd-010"]), ("31-60", ["dpd-040"]), ("61-90", ["dpd-070"]), ("90+", ["dpd-130"]), ("", None)],
)
def test_the_risk_review_filters_by_bucket(risk_client, debtors, bucket, expected):
    response = risk_client.get("/risk/", {"bucket": bucket})

    assert response.status_code == 200
    assert first_column(response) == (expected or ["dpd-130", "dpd-070", "dpd-040", "dpd-010"])


def test_the_risk_review_bucket_column_and_the_search_form_keep_the_bucket(risk_client, debtors):
    response = risk_client.get("/risk/")
    rows = {cells[0]: cells for cells in _rows(response)}
    assert {cid: (int(cells[6]), cells[7]) for cid, cells in rows.items()} == {
        "dpd-010": (10, "1-30"),
        "dpd-040": (40, "31-60"),
        "dpd-070": (70, "61-90"),
        "dpd-130": (130, "90+"),
    }
    searched = risk_client.post("/risk/", {"q": "dpd", "bucket": "31-60"})
    assert searched.status_code == 302 and "bucket=31-60" in searched.url
    assert first_column(risk_client.get(searched.url)) == ["dpd-040"]


def test_an_unknown_bucket_is_an_empty_list_not_an_error(risk_client, debtors):
    response = risk_client.get("/risk/", {"bucket": "1000+"})
    assert response.status_code == 200
    assert first_column(response) == ["No customer in debt matches these filters. Clear filters"]


def _rows(response):
    return table_rows(response)


# --- the queue ---------------------------------------------------------------------------------------


def _case_of(customer_id) -> Case:
    return Case.objects.get(customer__customer_id=customer_id, status=Case.Status.OPEN)


def test_the_queue_puts_broken_promises_first_then_the_longest_overdue(risk_client, debtors):
    newest = _case_of("dpd-010")
    PromiseToPay.objects.create(
        case=newest, amount=D("10.00"), due_date=timezone.localdate() - datetime.timedelta(days=1), status="PENDING",
        created_at=timezone.now() - datetime.timedelta(days=2),
    )  # fmt: skip
    check_overdue(as_of=timezone.localdate())  # breaks the promise: its day has passed unpaid

    response = risk_client.get("/collections/")

    assert [cells[1] for cells in _rows(response)] == ["dpd-010", "dpd-130", "dpd-070", "dpd-040"]
    assert "Broken" in _rows(response)[0][6]
    assert [cells[3] for cells in _rows(response)] == ["10", "130", "70", "40"]
    assert [cells[4] for cells in _rows(response)] == ["1-30", "90+", "61-90", "31-60"]


def test_the_queue_follows_a_payment_that_moves_the_oldest_due_date(risk_client, db):
    """The queue sorts by its cases' copy of the customer's overdue_since: a payment of the
    oldest overdue installment moves the customer down the queue at once, not at the next check."""
    today = timezone.localdate()
    two = CustomerFactory(customer_id="two-late")
    PlanFactory(customer=two, total_amount=D("300.00"), installment_count=3, start_date=today)
    two.installments.filter(number=1).update(due_date=today - datetime.timedelta(days=80))
    two.installments.filter(number=2).update(due_date=today - datetime.timedelta(days=20))
    other = CustomerFactory(customer_id="fifty-late")
    PlanFactory(customer=other, total_amount=D("300.00"), installment_count=3, start_date=today)
    other.installments.filter(number=1).update(due_date=today - datetime.timedelta(days=50))
    check_overdue(as_of=today)
    assert [cells[1] for cells in _rows(risk_client.get("/collections/"))] == ["two-late", "fifty-late"]

    ledger.record_payment(
        customer_id="two-late", amount="100.00", method="cash", reference="q-1", actor=Actor.system("test")
    )

    rows = _rows(risk_client.get("/collections/"))
    assert [(cells[1], cells[3]) for cells in rows] == [("fifty-late", "50"), ("two-late", "20")]
    assert _case_of("two-late").queue_overdue_since == today - datetime.timedelta(days=20)
    sorted_by_dpd = _rows(risk_client.get("/collections/", {"sort": "dpd"}))
    assert [cells[1] for cells in sorted_by_dpd] == ["two-late", "fifty-late"]


def test_a_case_opened_by_hand_gets_its_days_past_due_from_the_next_check(risk_client, db):
    today = timezone.localdate()
    customer = CustomerFactory(customer_id="by-hand")
    PlanFactory(customer=customer, total_amount=D("300.00"), installment_count=3, start_date=today)
    customer.installments.filter(number=1).update(due_date=today - datetime.timedelta(days=40))
    customer_services.change_status(
        customer=customer, status=Customer.Status.DEBT_USER, reason="fraud suspected", actor=Actor.system("test")
    )
    assert [cells[3] for cells in _rows(risk_client.get("/collections/"))] == ["—"]

    check_overdue(as_of=today)

    assert _case_of("by-hand").queue_overdue_since == today - datetime.timedelta(days=40)
    assert [cells[3] for cells in _rows(risk_client.get("/collections/"))] == ["40"]


def test_queue_ties_go_by_case_id_and_pages_never_repeat_a_row(risk_client, db):
    today = timezone.localdate()
    for n in range(7):  # all overdue since the same day
        PlanFactory(customer=CustomerFactory(customer_id=f"tie-{n}"), start_date=today - datetime.timedelta(days=40))
    check_overdue(as_of=today)
    ids = sorted(Case.objects.filter(status="OPEN").values_list("pk", flat=True))

    seen = []
    for page in (1, 2, 3, 4):
        seen += [int(cells[0]) for cells in _rows(risk_client.get("/collections/", {"per_page": 2, "page": page}))]

    assert seen == ids


def test_mine_and_unassigned(client_for, debtors):
    risk = client_for("risk")
    other = UserFactory.risk()
    services.assign(case_id=_case_of("dpd-040").pk, assignee_username=risk.user.username, actor=Actor.staff(risk.user))
    services.assign(case_id=_case_of("dpd-070").pk, assignee_username=other.username, actor=Actor.staff(other))

    customers = {
        view: [cells[1] for cells in _rows(risk.get("/collections/", {"view": view}))]
        for view in ("all", "mine", "unassigned")
    }

    assert customers == {
        "all": ["dpd-130", "dpd-070", "dpd-040", "dpd-010"],
        "mine": ["dpd-040"],
        "unassigned": ["dpd-130", "dpd-010"],
    }
    assert [cells[5] for cells in _rows(risk.get("/collections/"))] == ["—", other.username, risk.user.username, "—"]


def test_the_queue_filters_by_bucket_and_swaps_its_table_with_htmx(risk_client, debtors):
    assert [c[1] for c in _rows(risk_client.get("/collections/", {"bucket": "61-90"}))] == ["dpd-070"]
    html = assert_fragment(risk_client.get("/collections/", {"view": "unassigned"}, headers=HTMX))
    assert "dpd-130" in html


def test_the_queue_lists_open_cases_only(risk_client, debtors):
    case = _case_of("dpd-130")
    services.close_case(case.customer)
    assert "dpd-130" not in [c[1] for c in _rows(risk_client.get("/collections/"))]


def test_collections_is_in_the_nav_for_risk_only(support_client, risk_client, db):
    assert 'href="/collections/"' in html_of(risk_client.get("/customers/"))
    assert 'href="/collections/"' not in html_of(support_client.get("/customers/"))


# --- the case page and its forms --------------------------------------------------------------------


@pytest.fixture
def case(debtors) -> Case:
    return _case_of("dpd-040")


def _page(browser, case):
    return browser.get(f"/collections/{case.pk}/")


def _written() -> dict:
    return {
        "notes": CaseNote.objects.count(),
        "promises": PromiseToPay.objects.count(),
        "assignees": list(Case.objects.order_by("pk").values_list("pk", "assignee_id")),
        "audit": AuditEvent.objects.filter(action__startswith="case.").count(),
        "tokens": FormSubmission.objects.count(),
    }


def test_risk_assigns_the_case_and_it_is_audited_on_the_timeline(client_for, case):
    risk = client_for("risk")
    colleague = UserFactory.risk(username="colleague")
    page = _page(risk, case)
    assert "colleague" in html_of(page)

    response = risk.post(f"/collections/{case.pk}/assign/", {"assignee": "colleague", "token": token_of(page)})

    assert response.status_code == 302
    case.refresh_from_db()
    assert case.assignee == colleague
    event = AuditEvent.objects.get(action="case.assigned")
    assert event.customer_ref == "dpd-040" and event.data == {"from": None, "to": "colleague"}
    assert "case.assigned" in html_of(risk.get("/customers/dpd-040/"))

    again = risk.post(f"/collections/{case.pk}/assign/", {"assignee": "", "token": token_of(_page(risk, case))})
    case.refresh_from_db()
    assert again.status_code == 302 and case.assignee is None


def test_a_user_who_cannot_work_cases_is_not_offered_and_is_refused(client_for, case):
    risk = client_for("risk")
    support = UserFactory.support(username="helpdesk")
    page = _page(risk, case)
    assert 'value="helpdesk"' not in html_of(page)
    before = _written()

    response = risk.post(f"/collections/{case.pk}/assign/", {"assignee": support.username, "token": token_of(page)})

    assert response.status_code == 200 and "Select a valid choice" in html_of(response)
    assert _written() == before


def test_risk_adds_a_note_and_a_card_number_in_it_is_stored_and_shown_masked(risk_client, case):
    text = f"Promised to pay from card {RAW_CARD}"
    response = risk_client.post(
        f"/collections/{case.pk}/notes/", {"text": text, "token": token_of(_page(risk_client, case))}, follow=True
    )

    note = CaseNote.objects.get(case=case)
    assert note.masked and RAW_CARD not in note.text and "1111 1111" not in note.text
    assert note.text.startswith("Promised to pay from card ")
    html = html_of(response)
    assert RAW_CARD not in html and RAW_CARD.replace(" ", "") not in html
    assert 'class="badge badge-masked"' in html and note.text in unescape(html)
    assert any("stored masked" in message for message in messages_of(response))
    event = AuditEvent.objects.get(action="case.note_added")
    assert event.data == {"note": note.text, "masked": True} and event.customer_ref == "dpd-040"
    assert "case.note_added" in html_of(risk_client.get("/customers/dpd-040/"))


def test_risk_records_a_promise(risk_client, case):
    due = timezone.localdate() + datetime.timedelta(days=7)
    response = risk_client.post(
        f"/collections/{case.pk}/promises/",
        {"amount": "150.50", "due_date": due.isoformat(), "token": token_of(_page(risk_client, case))},
        follow=True,
    )

    promise = PromiseToPay.objects.get(case=case)
    assert (promise.amount, promise.due_date, promise.status) == (D("150.50"), due, "PENDING")
    assert f'id="promise-{promise.pk}"' in html_of(response)
    assert AuditEvent.objects.get(action="case.promise_added").data == {"amount": "150.50", "due_date": due.isoformat()}
    queue = _rows(risk_client.get("/collections/", {"view": "all"}))
    assert [c[6] for c in queue if c[1] == "dpd-040"] == [f"Pending 150.50 UZS by {due:%Y-%m-%d}"]


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_note_is_a_form_error_and_writes_nothing(risk_client, case, text):
    before = _written()
    response = risk_client.post(
        f"/collections/{case.pk}/notes/", {"text": text, "token": token_of(_page(risk_client, case))}
    )

    assert response.status_code == 200 and 'class="field-error"' in html_of(response)
    assert _written() == before


@pytest.mark.parametrize(
    ("amount", "days"),
    [("0", 7), ("-1", 7), ("1.001", 7), ("NaN", 7), ("abc", 7), ("", 7), ("10.00", -1), ("10.00", 91)],
)
def test_a_bad_promise_is_a_form_error_and_writes_nothing(risk_client, case, amount, days):
    before = _written()
    due = timezone.localdate() + datetime.timedelta(days=days)
    response = risk_client.post(
        f"/collections/{case.pk}/promises/",
        {"amount": amount, "due_date": due.isoformat(), "token": token_of(_page(risk_client, case))},
    )

    assert response.status_code == 200 and 'class="field-error"' in html_of(response)
    assert _written() == before


def test_the_promise_dates_allowed_are_today_to_90_days_ahead(risk_client, case):
    for days in (0, 90):
        due = timezone.localdate() + datetime.timedelta(days=days)
        data = {"amount": "5.00", "due_date": due.isoformat(), "token": token_of(_page(risk_client, case))}
        assert risk_client.post(f"/collections/{case.pk}/promises/", data).status_code == 302
    assert PromiseToPay.objects.filter(case=case).count() == 2


@pytest.mark.parametrize(
    ("action", "data", "model"),
    [
        ("notes", {"text": "Called, no answer"}, CaseNote),
        ("promises", {"amount": "20.00", "due_date": "+3"}, PromiseToPay),
    ],
)
def test_a_double_submit_of_one_token_writes_once(risk_client, case, action, data, model):
    if data.get("due_date") == "+3":
        data = {**data, "due_date": (timezone.localdate() + datetime.timedelta(days=3)).isoformat()}
    token = token_of(_page(risk_client, case))

    first = risk_client.post(f"/collections/{case.pk}/{action}/", {**data, "token": token})
    second = risk_client.post(f"/collections/{case.pk}/{action}/", {**data, "token": token}, follow=True)

    assert first.status_code == 302 and second.status_code == 200
    assert model.objects.filter(case=case).count() == 1
    assert any("already" in message for message in messages_of(second))


def test_a_closed_case_takes_no_note_and_shows_no_forms(risk_client, case):
    page = _page(risk_client, case)
    services.close_case(case.customer)
    before = _written()

    response = risk_client.post(f"/collections/{case.pk}/notes/", {"text": "Late note", "token": token_of(page)})

    assert response.status_code == 200 and "The case is closed" in html_of(response)
    assert _written() == before
    assert 'name="token"' not in html_of(_page(risk_client, case))


def test_an_unknown_case_is_a_404(risk_client, db):
    assert risk_client.get("/collections/999999/").status_code == 404
    assert risk_client.post("/collections/999999/notes/", {"text": "x"}).status_code == 404


@pytest.mark.parametrize("role", ["support", "nobody"])
def test_support_cannot_open_or_work_a_case_and_nothing_is_written(client_for, case, role):
    browser = client_for(role)
    before = _written()
    due = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    token = "6f1c1c3e-4d2b-4a57-9d1b-0a4b3e2f1a11"

    assert_refused(browser.get("/collections/"))
    assert_refused(_page(browser, case))
    assert_refused(browser.post(f"/collections/{case.pk}/assign/", {"assignee": "", "token": token}))
    assert_refused(browser.post(f"/collections/{case.pk}/notes/", {"text": "x", "token": token}))
    assert_refused(browser.post(f"/collections/{case.pk}/promises/", {"amount": "5", "due_date": due, "token": token}))
    assert _written() == before


def test_the_case_page_shows_the_customer_masked_dpd_bucket_outstanding_and_hold(risk_client, case):
    html = html_of(_page(risk_client, case))
    customer = case.customer
    assert customer.phone_masked in html and "40 (since" in html and "31-60" in html
    assert "400.00 UZS" in html  # what remains of the 400.00 plan


# --- the profile -------------------------------------------------------------------------------------


def test_support_reads_the_case_on_the_profile_without_forms(client_for, case):
    risk, support = client_for("risk"), client_for("support")
    services.add_note(case_id=case.pk, text="Will pay Friday", actor=Actor.staff(risk.user))
    due = timezone.localdate() + datetime.timedelta(days=2)
    services.add_promise(case_id=case.pk, amount="30.00", due_date=due, actor=Actor.staff(risk.user))
    services.assign(case_id=case.pk, assignee_username=risk.user.username, actor=Actor.staff(risk.user))

    seen_by_support = html_of(support.get("/customers/dpd-040/"))
    seen_by_risk = html_of(risk.get("/customers/dpd-040/"))

    for html in (seen_by_support, seen_by_risk):
        panel = html[html.index('id="case"') :]
        assert "Collection case" in html and "Will pay Friday" in panel and "30.00 UZS" in panel
        assert risk.user.username in panel
    assert f"/collections/{case.pk}/" not in seen_by_support
    assert "/notes/" not in seen_by_support and "/promises/" not in seen_by_support
    assert f"/collections/{case.pk}/" in seen_by_risk


def test_a_profile_without_an_open_case_has_no_case_panel(support_client, debtors):
    PlanFactory(customer=CustomerFactory(customer_id="fine"))
    assert "Collection case" not in html_of(support_client.get("/customers/fine/"))


def test_the_profile_shows_the_hold_with_who_set_it(client_for, debtors):
    risk, support = client_for("risk"), client_for("support")
    until = timezone.localdate() + datetime.timedelta(days=14)
    response = risk.post(
        "/customers/dpd-010/status/",
        {"status": "NORMAL", "reason": "Pays on the 15th", "hold_until": until.isoformat()},
    )
    assert response.status_code == 302
    assert Customer.objects.get(customer_id="dpd-010").hold_until == until

    expected = f"On hold until {until:%Y-%m-%d}, set by {risk.user.username}: Pays on the 15th"
    assert expected in unescape(html_of(support.get("/customers/dpd-010/")))


def test_every_field_help_text_is_what_its_field_is_described_by(risk_client, debtors):
    """A screen reader reads a field's help text through aria-describedby: each one names an
    element of the page (the record-payment form and the case page's forms)."""
    case = _case_of("dpd-040")
    for path in (f"/customers/{case.customer.customer_id}/payments/new/", f"/collections/{case.pk}/"):
        html = html_of(risk_client.get(path))
        described = re.findall(r'aria-describedby="([^"]+)"', html)
        assert described, path
        ids = set(re.findall(r'\sid="([^"]+)"', html))
        assert {name for value in described for name in value.split()} <= ids, path
