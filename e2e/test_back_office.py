"""A working day in the back office, driven through Chromium against a live server.

Few, broad tests (each live_server test flushes the database): a support agent's day (search,
profile, plan with live preview, payment, refund confirmed with a double click, phone search), a
debt user refused a plan and recovering, a risk officer's review / override / reveal / audit trail
(and support kept out), and keyboard-only sign-in at a 1024x768 viewport without page overflow.
Every page visited is saved by `screenshot`; `page_problems` must stay empty (or hold only the 403
that is the point).
"""

import csv
import datetime
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from bnpl_admin.audit.services import Actor
from bnpl_admin.collection.portfolio import bucket_of
from bnpl_admin.customers.models import Customer
from bnpl_admin.customers.services import create_customer
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.plans.services import check_overdue, create_plan
from bnpl_admin.refunds.models import Refund
from bnpl_admin.refunds.services import issue_refund

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEBT_MESSAGE = "Users with DEBT_USER status cannot create new BNPL plans"


# --- data, set up through the services -------------------------------------------------------------


def _customer(customer_id, full_name, phone, passport="AA1234567", card="4111111111111111"):
    return create_customer(
        customer_id=customer_id,
        full_name=full_name,
        phone_number=phone,
        passport_number=passport,
        card_number=card,
        date_of_birth=datetime.date(1990, 5, 17),
        actor=Actor.system(),
    )


def _debt_user(customer_id, full_name, phone):
    """A plan of 900.00 in 3 started 85 days ago: installments 1 and 2 overdue, 3 upcoming."""
    _customer(customer_id, full_name, phone)
    create_plan(
        customer_id=customer_id,
        total_amount=Decimal("900.00"),
        installment_count=3,
        start_date=timezone.localdate() - datetime.timedelta(days=85),
        actor=Actor.system(),
    )
    check_overdue(actor=Actor.system())
    customer = Customer.objects.get(customer_id=customer_id)
    assert customer.status == Customer.Status.DEBT_USER
    overdue = list(Installment.objects.filter(customer=customer, status=Installment.Status.OVERDUE).order_by("number"))
    assert [i.number for i in overdue] == [1, 2]
    return customer, overdue


# --- page helpers ---------------------------------------------------------------------------------


def _sign_in(page, live_server, username, password):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/customers/")


def _mark_document(page):
    """Tag the current document; `_same_document` then tells whether a full page load happened."""
    page.evaluate("window.__e2eDocument = 'kept'")


def _same_document(page):
    return page.evaluate("window.__e2eDocument") == "kept"


def _follow_customer_link(page, follow, expected_url, defects, screenshot, where):
    """Follow a customer link in a table (`follow()` clicks it or presses Enter on it) and land on the
    profile as a page of its own. The tables carry hx-boost with hx-target="#table": when the
    profile gets swapped into the list's #table instead, record the defect (with a screenshot) and
    load the profile directly so the rest of the flow still runs."""
    follow()
    expect(page).to_have_url(expected_url)
    page.wait_for_load_state()
    topbars = page.locator("header.topbar").count()
    if topbars != 1:
        screenshot(page, "BROKEN-profile-inside-list")
        defects.append(
            f"{where}: following the customer link swapped the whole profile page into the table's #table "
            f"div (hx-boost + hx-target='#table'): {topbars} top bars, the list heading and filters stay above"
        )
        page.goto(expected_url)


def _raw_phone_forms(phone):
    digits = phone.lstrip("+")
    spaced = f"+{digits[:3]} {digits[3:5]} {digits[5:8]} {digits[8:10]} {digits[10:]}"
    return [phone, digits, digits[3:], spaced, spaced.replace(" ", "+"), spaced.replace(" ", "%20")]


# The elements whose right edge is the page's scroll width: what makes the page scroll sideways.
_OVERFLOW_JS = """() => {
  const root = document.documentElement;
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.classList.length ? '.' + [...el.classList].join('.') : '');
  const path = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.body; e = e.parentElement) parts.unshift(describe(e));
    return parts.join(' > ');
  };
  const culprits = [...document.body.querySelectorAll('*')].filter((el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && Math.abs(box.right + window.scrollX - root.scrollWidth) <= 1;
  });
  return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
          culprits: culprits.slice(0, 4).map((el) => path(el) + ' [' + getComputedStyle(el).position + ']')};
}"""


def _horizontal_overflow(page, where):
    """None when the page fits its viewport's width; otherwise what overflows, for the report."""
    figures = page.evaluate(_OVERFLOW_JS)
    if figures["scrollWidth"] <= figures["clientWidth"] + 1:
        return None
    return (
        f"{where} overflows horizontally: scrollWidth {figures['scrollWidth']} > clientWidth "
        f"{figures['clientWidth']}; reaching that width: {figures['culprits']}"
    )


# --- 1. support agent ----------------------------------------------------------------------------


def test_support_agent_day(page, live_server, demo_staff, screenshot, page_problems):
    phone = "+998901112233"
    _customer("usr-e2e-101", "Dilnoza Rahimova", phone)
    _customer("usr-e2e-102", "Bekzod Tursunov", "+998935550199", "AB7654321", "5555555555554444")
    _customer("usr-e2e-103", "Malika Yusupova", "+998977770011", "AC1112223", "8600123412341234")

    _sign_in(page, live_server, "support", demo_staff["support"])
    rows = page.locator("#table tbody tr")
    expect(rows).to_have_count(3)
    screenshot(page, "customers")

    # Search by name: htmx swaps the table in place and pushes q= into the address bar.
    _mark_document(page)
    page.get_by_role("searchbox", name="Search").fill("Dilnoza")
    expect(page).to_have_url(re.compile(r"/customers/\?(.*&)?q=Dilnoza"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("usr-e2e-101")
    expect(rows.first).to_contain_text("Dilnoza Rahimova")
    assert _same_document(page), "the search reloaded the whole page instead of swapping the table"
    screenshot(page, "search-by-name")

    # The profile.
    defects = []
    _follow_customer_link(
        page,
        rows.first.get_by_role("link", name="usr-e2e-101").click,
        f"{live_server.url}/customers/usr-e2e-101/",
        defects,
        screenshot,
        "customers list",
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dilnoza Rahimova")
    expect(page.get_by_role("searchbox")).to_have_count(0)  # the profile, not the list with a profile inside
    expect(page.get_by_text("No plans yet.")).to_be_visible()
    screenshot(page, "profile")

    # New plan with the live schedule preview.
    page.get_by_role("link", name="New plan").click()
    expect(page).to_have_url(f"{live_server.url}/customers/usr-e2e-101/plans/new/")
    expect(page.get_by_text("Enter an amount to see the installments.")).to_be_visible()
    screenshot(page, "new-plan-empty")
    amount = page.get_by_label("Total amount")
    amount.click()
    amount.press_sequentially("500")
    expect(page.get_by_label("Installments")).to_have_value("3")
    preview = page.locator("#preview tbody tr")
    expect(preview).to_have_count(3)
    expect(preview.locator("td.num")).to_have_text(["166.67 UZS", "166.67 UZS", "166.66 UZS"])
    screenshot(page, "new-plan-preview")
    page.get_by_role("button", name="Create plan").dblclick()  # a double click makes one plan

    expect(page).to_have_url(re.compile(r"/customers/usr-e2e-101/#plan-[0-9a-f-]{36}$"))
    # (The message echoes the amount as typed: "500", not "500.00".)
    expect(page.get_by_role("status")).to_contain_text("Plan of 500.00 UZS in 3 installments created.")
    plan = page.locator("article.plan")
    expect(plan).to_have_count(1)
    assert Plan.objects.filter(customer__customer_id="usr-e2e-101").count() == 1
    expect(plan.get_by_role("heading", level=3)).to_contain_text("500.00 UZS in 3 installments")
    installments = plan.locator("tbody tr")
    expect(installments.locator("td:nth-child(3)")).to_have_text(["166.67 UZS", "166.67 UZS", "166.66 UZS"])
    expect(installments).to_contain_text(["Upcoming", "Upcoming", "Upcoming"])
    screenshot(page, "profile-with-plan")

    # Record the first payment.
    installments.first.get_by_role("link", name="Record payment").click()
    expect(page.get_by_role("heading", name="Record payment")).to_be_visible()
    screenshot(page, "record-payment")
    page.get_by_role("button", name="Confirm payment").click()
    expect(page).to_have_url(re.compile(r"/customers/usr-e2e-101/#plan-"))
    expect(page.get_by_role("status")).to_contain_text("Payment of installment #1 recorded.")
    expect(installments.nth(0)).to_contain_text("Paid")
    expect(installments.nth(0).get_by_role("link", name="Record payment")).to_have_count(0)
    expect(installments.nth(1)).to_contain_text("Upcoming")
    screenshot(page, "profile-after-payment")

    # Issue a refund: form, review, then a double click on "Confirm refund".
    page.get_by_role("link", name="Issue refund").click()
    expect(page.get_by_role("heading", name="Issue refund to Dilnoza Rahimova")).to_be_visible()
    page.get_by_label("Transaction ID").fill("txn-e2e-0001")
    page.get_by_label("Amount").fill("120.50")
    page.get_by_label("Plan").select_option(index=1)
    page.get_by_label("Reason").fill("Returned a pair of shoes")
    screenshot(page, "refund-form")
    page.get_by_role("button", name="Review refund").click()
    expect(page.get_by_role("heading", name="Confirm refund")).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("txn-e2e-0001")
    expect(page.locator(".facts")).to_contain_text("120.50 UZS")
    screenshot(page, "refund-confirm")

    confirm_posts = []
    page.on(
        "request",
        lambda request: (
            confirm_posts.append(request.url) if request.method == "POST" and "/refunds/new/" in request.url else None
        ),
    )
    page.get_by_role("button", name="Confirm refund").dblclick()
    expect(page).to_have_url(re.compile(r"/customers/usr-e2e-101/#refund-[0-9a-f-]{36}$"))
    refund_rows = page.locator("tr[id^='refund-']")
    expect(refund_rows).to_have_count(1)
    expect(refund_rows.first).to_contain_text("txn-e2e-0001")
    expect(refund_rows.first).to_contain_text("120.50 UZS")
    expect(refund_rows.first).to_contain_text("Pending")
    expect(page.get_by_role("status")).to_contain_text("Refund of 120.50 UZS for txn-e2e-0001 issued.")
    screenshot(page, "profile-after-refund")
    assert len(confirm_posts) == 1, f"the double click sent {len(confirm_posts)} confirm requests"

    assert Refund.objects.filter(transaction_id="txn-e2e-0001").count() == 1
    assert Plan.objects.filter(customer__customer_id="usr-e2e-101").count() == 1
    assert Plan.objects.count() == 1

    # Search by the exact phone number, typed with spaces: found, and the number stays out of the
    # address bar and the page.
    page.get_by_role("link", name="Customers", exact=True).first.click()
    expect(page).to_have_url(f"{live_server.url}/customers/")
    _mark_document(page)
    page.get_by_role("searchbox", name="Search").fill("+998 90 111 22 33")
    expect(page).to_have_url(re.compile(r"/customers/\?(.*&)?ph=[a-z0-9]{20,}"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("usr-e2e-101")
    expect(rows.first).to_contain_text("+998****2233")
    expect(page.get_by_text("Showing the customer with the phone number you searched for.")).to_be_visible()
    assert _same_document(page)
    screenshot(page, "search-by-phone")
    for form in (*_raw_phone_forms(phone), "%2B998"):
        assert form not in page.url, f"the phone number ({form!r}) is in the address bar"
        assert form not in page.content(), f"the phone number ({form!r}) is in the page"

    page.reload()  # the pushed URL, loaded on its own, shows the same result and no number
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("usr-e2e-101")
    expect(page.get_by_role("searchbox", name="Search")).to_have_value("")
    for form in _raw_phone_forms(phone):
        assert form not in page.content()
    screenshot(page, "search-by-phone-reloaded")

    assert page_problems == []
    defects = [defect for defect in defects if defect]
    assert not defects, "\n".join(defects)


# --- 2. debt user refused, then recovering --------------------------------------------------------


def test_debt_user_is_refused_a_plan_and_recovers_after_paying(
    page, live_server, demo_staff, screenshot, page_problems
):
    customer, overdue = _debt_user("usr-e2e-201", "Jasur Karimov", "+998912223344")

    _sign_in(page, live_server, "support", demo_staff["support"])
    page.goto(f"{live_server.url}/customers/usr-e2e-201/")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Jasur Karimov")
    expect(heading.locator(".badge")).to_have_text("Debt user")
    expect(page.locator("#plan-" + str(overdue[0].plan_id) + " tbody tr")).to_contain_text(
        ["Overdue", "Overdue", "Upcoming"]
    )
    screenshot(page, "debt-profile")

    # Said before the form: New plan is no link for a customer in debt, and says why.
    expect(page.get_by_role("link", name="New plan")).to_have_count(0)
    expect(page.locator("[aria-disabled='true']", has_text="New plan")).to_be_visible()
    expect(page.locator("#new-plan-refused")).to_have_text("No new plan: the customer is in debt.")
    # The form itself (a bookmark, an old tab) says so too, its fields and button disabled.
    page.goto(f"{live_server.url}/customers/usr-e2e-201/plans/new/")
    expect(page.get_by_role("alert")).to_contain_text(DEBT_MESSAGE)
    expect(page.get_by_label("Total amount")).to_be_disabled()
    expect(page.get_by_role("button", name="Create plan")).to_be_disabled()
    screenshot(page, "new-plan-page")
    # And the server still refuses a form sent anyway.
    page.evaluate(
        "document.querySelectorAll('[disabled], [aria-disabled]')"
        ".forEach((el) => { el.removeAttribute('disabled'); el.removeAttribute('aria-disabled'); })"
    )
    page.get_by_label("Total amount").fill("300")
    page.get_by_label("Installments").select_option("4")
    expect(page.locator("#preview tbody tr")).to_have_count(4)
    page.get_by_role("button", name="Create plan").click()

    expect(page).to_have_url(f"{live_server.url}/customers/usr-e2e-201/plans/new/")
    expect(page.locator(".form-errors")).to_have_text(DEBT_MESSAGE)
    expect(page.get_by_role("status")).to_have_count(0)  # no "Plan ... created" message
    screenshot(page, "plan-refused")
    assert Plan.objects.filter(customer=customer).count() == 1

    # Pay the overdue installments, oldest first: the customer returns to Normal after the last one.
    for number, installment in enumerate(overdue, start=1):
        page.goto(f"{live_server.url}/customers/usr-e2e-201/")
        row = page.locator(f"#installment-{installment.pk}")
        expect(row).to_contain_text("Overdue")
        row.get_by_role("link", name="Record payment").click()
        expect(page.get_by_role("heading", name="Record payment")).to_be_visible()
        expect(page.locator(".facts")).to_contain_text(f"#{installment.number}")
        screenshot(page, f"pay-overdue-{number}")
        page.get_by_role("button", name="Confirm payment").click()
        expect(page).to_have_url(re.compile(r"/customers/usr-e2e-201/#plan-"))
        expect(row).to_contain_text("Paid")
        last = number == len(overdue)
        expect(page.get_by_role("status")).to_contain_text(f"customer is {'Normal' if last else 'Debt user'}")
        expect(heading.locator(".badge")).to_have_text("Normal" if last else "Debt user")
        screenshot(page, f"after-payment-{number}")

    expect(page.locator("#debt-title + .facts")).to_contain_text("0.00 UZS")
    expect(page.get_by_role("link", name="New plan")).to_be_visible()
    customer.refresh_from_db()
    assert customer.status == Customer.Status.NORMAL
    assert page_problems == []


# --- 3. risk officer, and support kept out ---------------------------------------------------------


def test_risk_officer_reviews_overrides_reveals_and_audits(page, live_server, demo_staff, screenshot, page_problems):
    phone = "+998935550199"
    _, overdue = _debt_user("usr-e2e-301", "Sardor Aliev", phone)
    _customer("usr-e2e-302", "Nodira Saidova", "+998909998877")
    days_overdue = (timezone.localdate() - overdue[0].due_date).days

    _sign_in(page, live_server, "risk", demo_staff["risk"])
    page.get_by_role("link", name="Risk review").click()
    expect(page).to_have_url(f"{live_server.url}/risk/")
    rows = page.locator("#table tbody tr")
    expect(rows).to_have_count(1)  # the NORMAL customer is not listed
    row = rows.first
    expect(row).to_contain_text("usr-e2e-301")
    expect(row).to_contain_text("600.00 UZS")
    expect(row.locator("td")).to_contain_text(["usr-e2e-301", "Sardor Aliev", "+998****0199", "600.00 UZS", "2"])
    cells = row.locator("td")
    expect(cells.nth(6)).to_have_text(str(days_overdue))  # Days overdue, then the bucket (rule 10)
    expect(cells.last).to_have_text(bucket_of(days_overdue))
    screenshot(page, "risk-review")

    defects = []
    _follow_customer_link(
        page,
        row.get_by_role("link", name="usr-e2e-301").click,
        f"{live_server.url}/customers/usr-e2e-301/",
        defects,
        screenshot,
        "risk review",
    )
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Sardor Aliev")
    expect(page.get_by_role("searchbox")).to_have_count(0)
    screenshot(page, "profile")

    # Status override with a reason.
    reason = "Paid in cash at the branch, receipt 4411"
    override = page.locator("section", has=page.get_by_role("heading", name="Status override"))
    override.get_by_label("New status").select_option("NORMAL")
    override.get_by_label("Reason").fill(reason)
    # The customer is overdue: NORMAL is a hold until a day (rule 11).
    hold_until = timezone.localdate() + datetime.timedelta(days=7)
    override.get_by_label("Hold until").fill(hold_until.isoformat())
    screenshot(page, "status-override-filled")
    override.get_by_role("button", name="Change status").click()
    expect(page).to_have_url(f"{live_server.url}/customers/usr-e2e-301/")
    expect(page.get_by_role("status")).to_contain_text(f"usr-e2e-301 is Normal and on hold until {hold_until:%Y-%m-%d}")
    expect(heading.locator(".badge")).to_have_text("Normal")
    screenshot(page, "status-overridden")

    # Reveal the phone in place.
    for form in _raw_phone_forms(phone):
        assert form not in page.content()
    _mark_document(page)
    phone_slot = page.locator("#pii-phone_number")
    expect(phone_slot).to_have_text("+998****0199")
    page.locator("form[action$='/reveal/phone_number/']").get_by_role("button", name="Reveal").click()
    printed = _raw_phone_forms(phone)[3]  # as it is written: "+998 93 555 01 99"
    expect(phone_slot.locator("code.revealed")).to_have_text(printed)
    expect(phone_slot).to_contain_text("revealed to you; audited")
    assert _same_document(page), "Reveal reloaded the page instead of swapping the value in place"
    expect(page).to_have_url(f"{live_server.url}/customers/usr-e2e-301/")
    html = page.content()
    assert html.count(printed) == 1, f"the raw phone appears {html.count(printed)} times in the page"
    body_text = page.locator("body").inner_text()
    assert body_text.count(printed) == 1
    assert phone_slot.inner_text().count(printed) == 1
    for form in _raw_phone_forms(phone):  # no other spelling of the number anywhere else either
        assert html.count(form) == (1 if form in printed else 0), f"{form!r} appears elsewhere in the page"
    # The timeline shows the reveal without a reload.
    expect(page.locator("#timeline")).to_contain_text("Phone number revealed")
    screenshot(page, "phone-revealed")

    # Hide puts the masked value and its Reveal button back, in place.
    page.get_by_role("button", name="Hide").click()
    expect(phone_slot).to_have_text("+998****0199")
    assert printed not in page.content() and _same_document(page)
    expect(page.locator("form[action$='/reveal/phone_number/']").get_by_role("button", name="Reveal")).to_be_visible()
    screenshot(page, "phone-hidden")

    # The audit log, filtered by the customer.
    page.get_by_role("link", name="Audit log").click()
    expect(page).to_have_url(f"{live_server.url}/audit/")
    screenshot(page, "audit-log")
    _mark_document(page)
    page.get_by_label("Customer ID").fill("usr-e2e-301")
    expect(page).to_have_url(re.compile(r"/audit/\?(.*&)?customer=usr-e2e-301"))
    audit_rows = page.locator("#table tbody tr")
    expect(audit_rows.filter(has_text="usr-e2e-302")).to_have_count(0)
    # Words, not codes: each event is a sentence.
    status_row = audit_rows.filter(has_text="Status changed").filter(has_text=reason)
    expect(status_row).to_have_count(1)
    expect(status_row).to_contain_text("risk")
    expect(status_row).to_contain_text("Status changed from Debt user to Normal")
    revealed_row = audit_rows.filter(has_text="Personal data revealed")
    expect(revealed_row).to_have_count(1)
    expect(revealed_row).to_contain_text("Phone number revealed")
    expect(revealed_row).to_contain_text("risk")
    assert _same_document(page)
    for form in _raw_phone_forms(phone):
        assert form not in page.content(), "the audit log shows the raw phone"
    screenshot(page, "audit-log-filtered")
    # The export is of the filter typed since the page loaded (the table was swapped by htmx).
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    assert download.value.suggested_filename == "audit-log.csv"
    exported = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert exported and {row["Customer"] for row in exported} == {"usr-e2e-301"}
    assert {"customer.status_changed", "customer.pii_revealed"} <= {row["Action"] for row in exported}
    assert _same_document(page)
    assert page_problems == []

    # Support: no risk or audit links, and the 403 page at /risk/ and /audit/.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")
    _sign_in(page, live_server, "support", demo_staff["support"])
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Customers")).to_be_visible()
    expect(nav.get_by_role("link", name="Risk review")).to_have_count(0)
    expect(nav.get_by_role("link", name="Audit log")).to_have_count(0)
    screenshot(page, "support-nav")
    page.goto(f"{live_server.url}/customers/usr-e2e-301/")
    expect(page.get_by_role("button", name="Reveal")).to_have_count(0)
    expect(page.get_by_role("heading", name="Status override")).to_have_count(0)
    expect(page.locator("#pii-phone_number")).to_have_text("+998****0199")
    screenshot(page, "support-profile")
    for path in ("/risk/", "/audit/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 403, f"support got {response.status} at {path}"
        expect(page.get_by_role("heading", name="You do not have access to this")).to_be_visible()
        screenshot(page, f"support-403-{path.strip('/')}")
    assert page_problems == [f"HTTP 403 {live_server.url}/risk/", f"HTTP 403 {live_server.url}/audit/"]
    assert not defects, "\n".join(defects)


# --- 4. keyboard and a narrow screen --------------------------------------------------------------


def test_keyboard_sign_in_and_no_overflow_at_1024(page, live_server, demo_staff, screenshot, page_problems):
    _customer("usr-e2e-401", "Gulnora Abdurakhmanova-Khodjaeva", "+998991234567")
    for n in range(2, 6):
        _customer(f"usr-e2e-40{n}", f"Customer Number {n}", f"+99890555000{n}")
    plan = create_plan(
        customer_id="usr-e2e-401", total_amount=Decimal("1250000.00"), installment_count=12, actor=Actor.system()
    )
    issue_refund(
        customer_id="usr-e2e-401",
        transaction_id="txn-e2e-long-transaction-identifier-0000000001",
        amount=Decimal("99999.99"),
        reason="Order cancelled by the merchant after the goods were found damaged on delivery to the customer",
        plan_id=plan.pk,
        actor=Actor.system(),
    )
    page.set_viewport_size({"width": 1024, "height": 768})

    # Sign in with the keyboard only.
    page.goto(f"{live_server.url}/customers/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    focused = "document.activeElement && document.activeElement.id"
    assert page.evaluate(focused) == "id_username", "the username field is not focused on arrival"
    page.keyboard.type("support")
    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "id_password", "Tab from Username does not reach Password"
    page.keyboard.type(demo_staff["support"])
    screenshot(page, "login-1024")
    defects = [_horizontal_overflow(page, "the login page")]
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/customers/")
    expect(page.locator("#table tbody tr")).to_have_count(5)
    screenshot(page, "customers-1024")
    defects.append(_horizontal_overflow(page, "the customers page"))

    # Still by keyboard: search (the box has focus), Tab to the customer's link, Enter.
    assert page.evaluate(focused) == "id_q", "the search box is not focused on the customers page"
    page.keyboard.type("Gulnora")
    expect(page.locator("#table tbody tr")).to_have_count(1)
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "usr-e2e-401":
            break
    else:
        pytest.fail("Tab never reached the customer's link in the table")
    _follow_customer_link(
        page,
        lambda: page.keyboard.press("Enter"),
        f"{live_server.url}/customers/usr-e2e-401/",
        defects,
        screenshot,
        "customers list (keyboard)",
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("Gulnora Abdurakhmanova-Khodjaeva")
    expect(page.locator("article.plan tbody tr")).to_have_count(12)
    expect(page.locator("tr[id^='refund-']")).to_have_count(1)
    screenshot(page, "profile-1024")
    defects.append(_horizontal_overflow(page, "the customer profile"))

    page.get_by_role("link", name="New plan").click()
    page.get_by_label("Total amount").fill("1000")
    expect(page.locator("#preview tbody tr")).to_have_count(3)
    screenshot(page, "new-plan-1024")
    defects.append(_horizontal_overflow(page, "the new plan page"))
    assert page_problems == []
    defects = [defect for defect in defects if defect]
    assert not defects, "\n".join(defects)
