"""The daily flows test_back_office.py does not walk: a payment by amount with its preview, a refund
issued, replayed, conflicting and cancelled, a merchant's signed webhook approving one (the
profile then shows the reduced installments), and a risk officer working a collection case."""

import datetime
import re
from decimal import Decimal

from django.utils import timezone
from playwright.sync_api import expect

from bnpl_admin.audit.services import Actor
from bnpl_admin.collection.models import Case, CaseNote
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans.models import Installment, Payment
from bnpl_admin.plans.services import create_plan
from bnpl_admin.refunds.models import Refund
from bnpl_admin.webhooks.models import WebhookEvent
from bnpl_admin.webhooks.services import add_merchant
from bnpl_admin.webhooks.signing import signed_request
from e2e.test_back_office import _customer, _debt_user, _sign_in
from tasks.webhooks import process_webhook_event


def test_a_payment_by_amount_shows_where_it_goes_and_the_customer_recovers(
    page, live_server, demo_staff, screenshot, page_problems
):
    customer, _ = _debt_user("usr-e2e-701", "Shahlo Karimova", "+998907010701")
    _sign_in(page, live_server, "support", demo_staff["support"])
    page.goto(f"{live_server.url}/customers/usr-e2e-701/")
    page.locator(".actions").get_by_role("link", name="Record payment").click()
    expect(page).to_have_url(f"{live_server.url}/customers/usr-e2e-701/payments/new/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Record payment from Shahlo Karimova")

    page.get_by_label("Amount").fill("650.00")
    preview = page.locator("#preview tbody tr")
    expect(preview).to_have_count(3)
    expect(preview.nth(0)).to_contain_text("300.00 UZS")  # #1, overdue, first
    expect(preview.nth(1)).to_contain_text("300.00 UZS")
    expect(preview.nth(2)).to_contain_text("50.00 UZS")  # then the upcoming #3
    expect(page.locator("#preview tfoot")).to_contain_text("650.00 UZS")
    expect(page.locator("body")).not_to_contain_text("{#")  # no template text leaking into the page
    screenshot(page, "payment-preview")
    page.get_by_label("Reference").fill("rcpt-e2e-701")
    page.get_by_role("button", name="Record payment").dblclick()

    expect(page).to_have_url(re.compile(r"/customers/usr-e2e-701/"))
    expect(page.get_by_role("status")).to_contain_text("Payment of 650.00 UZS recorded")
    expect(page.get_by_role("status")).to_contain_text("customer is Normal")
    expect(page.get_by_role("heading", level=1).locator(".badge")).to_have_text("Normal")
    screenshot(page, "payment-recorded")
    assert Payment.objects.filter(reference="rcpt-e2e-701").count() == 1  # the double click made one
    assert [i.status for i in Installment.objects.filter(customer=customer).order_by("number")] == [
        "PAID",
        "PAID",
        "UPCOMING",
    ]
    assert page_problems == []


def test_refunds_replayed_conflicting_cancelled_and_approved_by_the_merchants_webhook(
    page, live_server, demo_staff, screenshot, page_problems
):
    merchant, secret = add_merchant(code="e2e-shop", name="E2E Shop", actor=Actor.system())
    _customer("usr-e2e-702", "Otabek Yuldashev", "+998907020702")
    plan = create_plan(
        customer_id="usr-e2e-702",
        total_amount=Decimal("900.00"),
        installment_count=3,
        merchant=merchant,
        actor=Actor.system(),
    )
    _sign_in(page, live_server, "support", demo_staff["support"])

    def issue(transaction_id, amount):
        page.goto(f"{live_server.url}/customers/usr-e2e-702/refunds/new/?plan={plan.pk}")
        page.get_by_label("Transaction ID").fill(transaction_id)
        page.get_by_label("Amount").fill(amount)
        page.get_by_role("button", name="Review refund").click()
        confirm = page.get_by_role("button", name="Confirm refund")
        if confirm.count():  # a refused one stays on the form with its error
            confirm.click()

    issue("txn-e2e-702-a", "150.00")
    expect(page.get_by_role("status")).to_contain_text("Refund of 150.00 UZS for txn-e2e-702-a issued.")
    screenshot(page, "refund-issued")
    issue("txn-e2e-702-a", "150.00")  # the same again: shown, not issued twice
    expect(page.locator(".messages")).to_contain_text("already issued")
    issue("txn-e2e-702-a", "99.00")  # the same id with another amount: refused
    expect(page.locator(".form-errors, [role=alert]").first).to_be_visible()
    screenshot(page, "refund-conflict")
    assert Refund.objects.filter(transaction_id="txn-e2e-702-a").count() == 1

    issue("txn-e2e-702-b", "20.00")
    cancel_row = page.locator(f"#refund-{Refund.objects.get(transaction_id='txn-e2e-702-b').pk}")
    cancel_row.get_by_role("link", name="Cancel").click()
    page.get_by_label("Reason").fill("Issued by mistake")
    page.get_by_role("button", name=re.compile("Cancel refund")).click()
    expect(cancel_row).to_contain_text("Cancelled by staff")
    screenshot(page, "refund-cancelled")

    # The merchant approves txn-e2e-702-a: a real signed POST, then the task, run in-process.
    body, headers = signed_request(
        secret=secret, merchant_code="e2e-shop", payload={"refund_id": "txn-e2e-702-a", "status": "approved"}
    )
    answer = page.request.post(f"{live_server.url}/webhook/refund-status/", data=body, headers=headers)
    assert answer.status == 202, answer.text()
    event = WebhookEvent.objects.get(refund_ref="txn-e2e-702-a")
    process_webhook_event(event.pk)

    page.goto(f"{live_server.url}/customers/usr-e2e-702/")
    last = page.locator(f"#plan-{plan.pk} tbody tr").nth(2)
    expect(last).to_contain_text("150.00 UZS")  # refunded off the last installment: 150.00 remain
    refund_row = page.locator(f"#refund-{Refund.objects.get(transaction_id='txn-e2e-702-a').pk}")
    expect(refund_row).to_contain_text("Approved")
    screenshot(page, "refund-approved-by-webhook")
    assert Installment.objects.get(plan=plan, number=3).amount_refunded == Decimal("150.00")
    assert page_problems == []


def test_a_risk_officer_works_a_collection_case(page, live_server, demo_staff, screenshot, page_problems):
    _debt_user("usr-e2e-703", "Madina Rashidova", "+998907030703")
    case = Case.objects.get(customer__customer_id="usr-e2e-703", status="OPEN")
    _sign_in(page, live_server, "risk", demo_staff["risk"])
    page.goto(f"{live_server.url}/collections/")
    page.locator("#case-queue").get_by_role("link", name="usr-e2e-703").click()
    expect(page).to_have_url(f"{live_server.url}/collections/{case.pk}/")
    screenshot(page, "case")

    page.get_by_role("textbox", name="Note").fill("Called; she read out her card 4111 1111 1111 1111, will pay Friday")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("status")).to_be_visible()
    assert "4111 1111 1111 1111" not in page.content()
    note = CaseNote.objects.get(case=case)
    assert note.masked and "4111 1111 1111 1111" not in note.text

    due = timezone.localdate() + datetime.timedelta(days=3)
    promise = page.locator("form[action$='/promises/']")
    promise.get_by_label("Amount").fill("300.00")
    promise.get_by_label("Pay by").fill(due.isoformat())
    promise.get_by_role("button", name="Record promise").click()
    expect(page.locator("body")).to_contain_text(f"{due:%Y-%m-%d}")
    screenshot(page, "case-with-note-and-promise")

    page.goto(f"{live_server.url}/customers/usr-e2e-703/")
    expect(page.locator("#timeline")).to_contain_text("Promise to pay 300.00 UZS")
    expect(page.locator("#timeline")).to_contain_text("(numbers masked)")
    assert Customer.objects.get(customer_id="usr-e2e-703").status == Customer.Status.DEBT_USER
    assert page_problems == []
