"""The money ledger's pages (rules 6-9): record a payment by amount with its allocation preview,
pay one installment's remaining amount, reverse a payment, cancel a plan, and the profile's
balances, through HTTP. The worked examples of issue 19 are played through the pages."""

import datetime
import re
import uuid
from decimal import Decimal
from html import unescape

import pytest
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans import ledger
from bnpl_admin.plans.models import Installment, Payment, Plan
from bnpl_admin.plans.services import check_overdue
from bnpl_admin.refunds import services as refunds
from bnpl_admin.refunds.models import Refund
from bnpl_admin.staff.models import FormSubmission
from tests.factories import CustomerFactory, PlanFactory
from tests.ledger.invariants import assert_ledger_consistent
from tests.pages import (
    HTMX,
    assert_fragment,
    assert_refused,
    html_of,
    messages_of,
    rows_by_id,
    table_rows,
    token_of,
)

pytestmark = pytest.mark.django_db

D = Decimal
RECORD_URL = "/customers/usr-001/payments/new/"
PROFILE_URL = "/customers/usr-001/"
MERCHANT = Actor.system("t")


def pay_url(installment) -> str:
    return f"/installments/{installment.pk}/pay/"


def reverse_url(payment) -> str:
    return f"/payments/{payment.pk}/reverse/"


def cancel_url(plan) -> str:
    return f"/plans/{plan.pk}/cancel/"


def installments(plan) -> list[Installment]:
    return list(Installment.objects.filter(plan=plan).order_by("number"))


def amounts(plan) -> list[tuple]:
    return [(i.amount_paid, i.amount_refunded, i.amount_remaining, i.status) for i in installments(plan)]


def record(browser, *, amount="150.00", method="cash", reference="rcpt-0001", plan="", token=None):
    token = token or token_of(browser.get(RECORD_URL))
    return browser.post(
        RECORD_URL, {"amount": amount, "method": method, "reference": reference, "plan": plan, "token": token}
    )


def pay(browser, installment):
    return browser.post(pay_url(installment), {"token": token_of(browser.get(pay_url(installment)))})


def with_reason(browser, url, *, reason="Entered on the wrong customer", token=None):
    token = token or token_of(browser.get(url))
    return browser.post(url, {"reason": reason, "token": token})


def issue_refund_through_the_page(browser, plan, *, transaction_id: str, amount: str) -> Refund:
    url = f"/customers/{plan.customer.customer_id}/refunds/new/"
    fields = {"transaction_id": transaction_id, "amount": amount, "plan": str(plan.pk), "reason": "Returned"}
    response = browser.post(url, {**fields, "token": token_of(browser.get(url)), "step": "confirm"})
    assert response.status_code == 302, html_of(response)[-2000:]
    return Refund.objects.get(transaction_id=transaction_id)


def approve(refund) -> None:
    refunds.apply_merchant_status(refund_ref=refund.pk, status="approved", actor=MERCHANT)


def balance_on_profile(response, plan) -> dict[str, str]:
    """The plan's balance figures as its card on the profile shows them (label -> text)."""
    article = re.search(rf'<article class="card plan" id="plan-{plan.pk}">(.*?)</article>', html_of(response), re.S)
    assert article, f"plan {plan.pk} is not on the profile"
    balance = re.search(r'<dl class="balance"[^>]*>(.*?)</dl>', article.group(1), re.S)
    assert balance, "the plan card has no balance"
    pairs = re.findall(r"<dt>(.*?)</dt><dd[^>]*>(.*?)</dd>", balance.group(1), re.S)
    return {unescape(label): " ".join(unescape(value).split()) for label, value in pairs}


def plan_badge(response, plan) -> str:
    article = re.search(rf'id="plan-{plan.pk}">.*?<h3>(.*?)</h3>', html_of(response), re.S)
    return re.search(r'class="badge badge-[a-z_]+">([^<]+)<', article.group(1)).group(1)


def row_of(response, installment) -> list[str]:
    """number, due, amount due, paid, refunded, remaining, status, paid at, action."""
    return rows_by_id(response)[f"installment-{installment.pk}"]


@pytest.fixture
def plan_300_first_paid(aziz, support_client):
    """A 300.00 plan in 3 (100.00 each) with #1 paid on its pay page."""
    plan = PlanFactory(customer=aziz, total_amount=D("300.00"), installment_count=3)
    assert pay(support_client, installments(plan)[0]).status_code == 302
    return plan


def with_first_overdue(customer) -> Plan:
    """A 300.00 plan in 3 started 35 days ago: #1 is overdue, #2 and #3 upcoming; the customer is a
    DEBT_USER (who can get no plan after it)."""
    start = timezone.localdate() - datetime.timedelta(days=35)
    plan = PlanFactory(customer=customer, total_amount=D("300.00"), installment_count=3, start_date=start)
    check_overdue()
    assert [i.status for i in installments(plan)] == ["OVERDUE", "UPCOMING", "UPCOMING"]
    assert Customer.objects.get(pk=customer.pk).status == Customer.Status.DEBT_USER
    return plan


@pytest.fixture
def first_overdue(aziz):
    return with_first_overdue(aziz)


# --- the worked examples ---------------------------------------------------------------------


def test_refunds_come_off_the_last_installments_and_a_full_refund_owes_the_customer(
    support_client, plan_300_first_paid
):
    plan = plan_300_first_paid
    first, second, third = installments(plan)

    approve(issue_refund_through_the_page(support_client, plan, transaction_id="txn-a", amount="150.00"))
    profile = support_client.get(PROFILE_URL)

    assert row_of(profile, third)[2:7] == ["100.00 UZS", "0.00 UZS", "100.00 UZS", "0.00 UZS", "Cancelled"]
    assert row_of(profile, second)[2:7] == ["100.00 UZS", "0.00 UZS", "50.00 UZS", "50.00 UZS", "Upcoming"]
    assert row_of(profile, first)[2:7] == ["100.00 UZS", "100.00 UZS", "0.00 UZS", "0.00 UZS", "Paid"]
    assert balance_on_profile(profile, plan) == {
        "Total": "300.00 UZS",
        "Paid": "100.00 UZS",
        "Refunded": "150.00 UZS",
        "Remaining": "50.00 UZS",
        "Owed back to customer": "0.00 UZS",
    }
    assert plan_badge(profile, plan) == "Active"

    second_refund = issue_refund_through_the_page(support_client, plan, transaction_id="txn-b", amount="150.00")
    approve(second_refund)
    profile = support_client.get(PROFILE_URL)

    assert plan_badge(profile, plan) == "Cancelled"
    assert balance_on_profile(profile, plan) == {
        "Total": "300.00 UZS",
        "Paid": "100.00 UZS",
        "Refunded": "200.00 UZS",
        "Remaining": "0.00 UZS",
        "Owed back to customer": "100.00 UZS",
    }
    transaction, amount, status, applied = rows_by_id(profile)[f"refund-{second_refund.pk}"][:4]
    assert (transaction, amount, applied) == ("txn-b", "150.00 UZS", "50.00 UZS 100.00 UZS to customer")
    assert status.startswith("Approved")
    assert Plan.objects.get(pk=plan.pk).status == Plan.Status.CANCELLED
    assert [i.amount_remaining for i in installments(plan)] == [D("0.00")] * 3
    assert f'href="{pay_url(second)}"' not in html_of(profile)
    assert_ledger_consistent()


def test_paying_150_on_the_payment_page_pays_the_overdue_one_first_and_the_customer_recovers(
    support_client, first_overdue
):
    response = record(support_client, amount="150.00", method="bank_transfer", reference="bank-77")

    payment = Payment.objects.get()
    assert response.status_code == 302 and response.url == f"{PROFILE_URL}#payment-{payment.pk}"
    first, second, third = installments(first_overdue)
    assert (first.status, first.amount_paid, first.amount_remaining) == ("PAID", D("100.00"), D("0.00"))
    assert (second.status, second.amount_paid, second.amount_remaining) == ("UPCOMING", D("50.00"), D("50.00"))
    assert (third.amount_paid, third.amount_remaining) == (D("0.00"), D("100.00"))
    assert Customer.objects.get(customer_id="usr-001").status == Customer.Status.NORMAL
    assert (payment.amount, payment.method, payment.reference) == (D("150.00"), "bank_transfer", "bank-77")
    assert payment.created_by == support_client.user

    profile = support_client.get(response.url)
    assert messages_of(profile) == ["Payment of 150.00 UZS recorded: 1 installment paid; customer is Normal."]
    short = str(first_overdue.pk)[:8]
    _, amount, method, reference, status, allocations, action = rows_by_id(profile)[f"payment-{payment.pk}"]
    assert (amount, method, reference, status) == ("150.00 UZS", "Bank transfer", "bank-77", "Posted")
    assert allocations == f"plan {short}/#1: 100.00 UZS plan {short}/#2: 50.00 UZS"
    assert action == ""  # support may not reverse
    assert_ledger_consistent()


def test_reversing_that_payment_as_risk_makes_the_customer_a_debt_user_again(
    support_client, risk_client, first_overdue
):
    record(support_client, amount="150.00")
    payment = Payment.objects.get()
    profile = risk_client.get(PROFILE_URL)
    assert f'href="{reverse_url(payment)}"' in html_of(profile)

    page = risk_client.get(reverse_url(payment))
    assert table_rows(page) == [
        [str(first_overdue.pk)[:8], "1", f"{installments(first_overdue)[0].due_date:%Y-%m-%d}", "100.00 UZS", "Paid"],
        [
            str(first_overdue.pk)[:8],
            "2",
            f"{installments(first_overdue)[1].due_date:%Y-%m-%d}",
            "50.00 UZS",
            "Upcoming",
        ],
    ]
    response = with_reason(risk_client, reverse_url(payment), reason="Bank returned the transfer")

    assert response.status_code == 302 and response.url == f"{PROFILE_URL}#payment-{payment.pk}"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REVERSED
    assert (payment.reversal_reason, payment.reversed_by) == ("Bank returned the transfer", risk_client.user)
    first, second, _ = installments(first_overdue)
    assert (first.status, first.amount_remaining) == ("OVERDUE", D("100.00"))
    assert (second.status, second.amount_remaining) == ("UPCOMING", D("100.00"))
    assert Customer.objects.get(customer_id="usr-001").status == Customer.Status.DEBT_USER
    profile = risk_client.get(response.url)
    assert messages_of(profile) == ["Payment rcpt-0001 of 150.00 UZS reversed; customer is Debt user."]
    assert rows_by_id(profile)[f"payment-{payment.pk}"][4] == "Reversed Bank returned the transfer"
    assert f'href="{reverse_url(payment)}"' not in html_of(profile)
    assert_ledger_consistent()


def test_a_second_reversal_is_refused_with_a_form_error(risk_client, first_overdue):
    posted = ledger.record_payment(customer_id="usr-001", amount="150.00", reference="r-1", actor=MERCHANT)
    stale_tab = token_of(risk_client.get(reverse_url(posted.payment)))
    with_reason(risk_client, reverse_url(posted.payment))
    events = AuditEvent.objects.count()

    response = with_reason(risk_client, reverse_url(posted.payment), token=stale_tab)

    assert response.status_code == 200
    assert "Payment is already reversed" in html_of(response)
    assert AuditEvent.objects.count() == events
    assert Payment.objects.get().status == Payment.Status.REVERSED
    assert "This payment was reversed on" in html_of(response)


def test_support_cannot_open_or_post_the_reverse_page(support_client, first_overdue):
    posted = ledger.record_payment(customer_id="usr-001", amount="150.00", reference="r-1", actor=MERCHANT)

    assert_refused(support_client.get(reverse_url(posted.payment)))
    assert_refused(support_client.post(reverse_url(posted.payment), {"reason": "no", "token": str(uuid.uuid4())}))

    assert Payment.objects.get().status == Payment.Status.POSTED
    assert Customer.objects.get(customer_id="usr-001").status == Customer.Status.NORMAL


def test_a_reversal_needs_a_reason(risk_client, first_overdue):
    posted = ledger.record_payment(customer_id="usr-001", amount="150.00", reference="r-1", actor=MERCHANT)

    response = with_reason(risk_client, reverse_url(posted.payment), reason="   ")

    assert response.status_code == 200 and 'class="field-error"' in html_of(response)
    assert Payment.objects.get().status == Payment.Status.POSTED
    assert not FormSubmission.objects.exists()


def test_reversing_the_same_token_twice_reverses_once(risk_client, first_overdue):
    posted = ledger.record_payment(customer_id="usr-001", amount="150.00", reference="r-1", actor=MERCHANT)
    token = token_of(risk_client.get(reverse_url(posted.payment)))

    first = with_reason(risk_client, reverse_url(posted.payment), token=token)
    second = with_reason(risk_client, reverse_url(posted.payment), token=token)

    assert second.status_code == 302 and second.url == first.url
    assert AuditEvent.objects.filter(action="payment.reversed").count() == 1
    assert "This payment was already reversed; showing it." in messages_of(risk_client.get(second.url))


@pytest.mark.parametrize("path", ["/payments/00000000-0000-0000-0000-000000000000/reverse/", "/payments/x/reverse/"])
def test_an_unknown_payment_is_a_404(risk_client, db, path):
    assert risk_client.get(path).status_code == 404


# --- the record-payment page and its preview ---------------------------------------------------


def test_the_profile_links_to_the_payment_page_while_something_is_outstanding(support_client, client_for, aziz):
    assert f'href="{RECORD_URL}"' not in html_of(support_client.get(PROFILE_URL))  # no plan yet
    PlanFactory(customer=aziz)

    assert f'href="{RECORD_URL}"' in html_of(support_client.get(PROFILE_URL))
    assert f'href="{RECORD_URL}"' not in html_of(client_for("nobody").get(PROFILE_URL))


def test_the_payment_page_offers_the_methods_and_only_the_active_plans(support_client, aziz):
    paid_off = PlanFactory(customer=aziz, total_amount=D("100.00"), installment_count=2)
    ledger.pay_installments(installment_ids=[i.pk for i in installments(paid_off)], actor=MERCHANT)
    first_overdue = with_first_overdue(aziz)

    response = support_client.get(RECORD_URL)
    html = html_of(response)

    assert response.status_code == 200 and token_of(response)
    for method in ("card", "cash", "bank_transfer", "other"):
        assert f'<option value="{method}"' in html
    assert f'<option value="{first_overdue.pk}"' in html
    assert f'<option value="{paid_off.pk}"' not in html  # COMPLETED
    assert "300.00 UZS remaining" in html
    assert 'maxlength="64"' in html


def test_the_preview_shows_where_each_cent_goes_and_records_nothing(support_client, first_overdue):
    first, second, _ = installments(first_overdue)
    short = str(first_overdue.pk)[:8]

    response = support_client.get(RECORD_URL, {"amount": "150.00", "plan": ""}, headers=HTMX)

    assert_fragment(response, '<div id="preview"')
    assert table_rows(response) == [
        [short, "1 Overdue", f"{first.due_date:%Y-%m-%d}", "100.00 UZS", "0.00 UZS"],
        [short, "2", f"{second.due_date:%Y-%m-%d}", "50.00 UZS", "50.00 UZS"],
    ]
    assert not Payment.objects.exists()
    assert amounts(first_overdue)[0] == (D("0.00"), D("0.00"), D("100.00"), "OVERDUE")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("300.01", "Payment exceeds the outstanding balance (300.00)"),
        ("1.001", "Ensure that there are no more than 2 decimal places."),
        ("0", "Ensure this value is greater than or equal to 0.01."),
        ("NaN", "Enter a number."),
    ],
)
def test_the_preview_explains_an_amount_it_cannot_take(support_client, first_overdue, amount, message):
    html = assert_fragment(support_client.get(RECORD_URL, {"amount": amount}, headers=HTMX), '<div id="preview"')

    assert message in unescape(html)
    assert "<table" not in html


def test_the_preview_of_an_empty_amount_shows_the_hint(support_client, first_overdue):
    html = assert_fragment(support_client.get(RECORD_URL, {"amount": ""}, headers=HTMX), '<div id="preview"')

    assert "Enter an amount to see which installments it pays" in html


def test_the_preview_of_a_customer_owing_nothing_says_so(support_client, aziz):
    html = assert_fragment(support_client.get(RECORD_URL, {"amount": "10"}, headers=HTMX), '<div id="preview"')

    assert "Nothing is outstanding" in html


def test_a_payment_limited_to_one_plan_goes_only_to_it(support_client, aziz):
    newer = PlanFactory(customer=aziz, total_amount=D("200.00"), installment_count=2)
    first_overdue = with_first_overdue(aziz)
    preview = support_client.get(RECORD_URL, {"amount": "150.00", "plan": str(newer.pk)}, headers=HTMX)
    assert [row[1] for row in table_rows(preview)] == ["1", "2"]

    record(support_client, amount="150.00", plan=str(newer.pk))

    assert [i.amount_paid for i in installments(newer)] == [D("100.00"), D("50.00")]
    assert amounts(first_overdue)[0] == (D("0.00"), D("0.00"), D("100.00"), "OVERDUE")
    assert Customer.objects.get(customer_id="usr-001").status == Customer.Status.DEBT_USER


@pytest.fixture
def someone_elses_plan(db):
    return PlanFactory(customer=CustomerFactory(customer_id="usr-other"))


@pytest.mark.parametrize(
    "fields",
    [
        {"amount": "0"},
        {"amount": "-1"},
        {"amount": "1.001"},
        {"amount": "NaN"},
        {"amount": "Infinity"},
        {"amount": "abc"},
        {"amount": "\u0661\u0665\u0660"},  # 150 in Arabic-Indic digits
        {"amount": "300.01"},  # over the balance
        {"reference": ""},
        {"reference": "   "},
        {"reference": "x" * 65},
        {"reference": "a\x00b"},
        {"method": "bitcoin"},
        {"plan": "someone-elses"},
        {"plan": str(uuid.uuid4())},
        {"token": "forged"},
    ],
)
def test_bad_input_is_a_form_error_and_changes_nothing(support_client, first_overdue, someone_elses_plan, fields):
    if fields.get("plan") == "someone-elses":
        fields = {"plan": str(someone_elses_plan.pk)}
    before = amounts(first_overdue), amounts(someone_elses_plan)
    events = AuditEvent.objects.count()

    response = record(support_client, **fields)

    assert response.status_code == 200
    html = html_of(response)
    assert 'class="field-error"' in html or 'class="form-errors"' in html
    assert Payment.objects.count() == 0
    assert (amounts(first_overdue), amounts(someone_elses_plan)) == before
    assert AuditEvent.objects.count() == events
    assert not FormSubmission.objects.exists()
    assert Customer.objects.get(customer_id="usr-001").status == Customer.Status.DEBT_USER


def test_an_amount_over_the_balance_says_what_is_outstanding(support_client, first_overdue):
    html = html_of(record(support_client, amount="300.01"))

    assert "Payment exceeds the outstanding balance (300.00)" in html


def test_submitting_the_same_token_twice_records_one_payment(support_client, first_overdue):
    token = token_of(support_client.get(RECORD_URL))

    first = record(support_client, token=token)
    second = record(support_client, token=token)

    assert Payment.objects.count() == 1
    assert second.status_code == 302 and second.url == first.url
    assert installments(first_overdue)[1].amount_paid == D("50.00")
    assert "This payment was already recorded; showing it." in messages_of(support_client.get(second.url))


def test_a_replayed_reference_shows_the_first_payment(support_client, first_overdue):
    first = record(support_client, reference="rcpt-9")
    second = record(support_client, reference="rcpt-9")

    assert Payment.objects.count() == 1
    assert second.status_code == 302 and second.url == first.url
    assert installments(first_overdue)[1].amount_paid == D("50.00")
    assert "This payment was already recorded; showing it." in messages_of(support_client.get(second.url))


def test_a_reference_used_for_another_amount_is_a_form_error(support_client, first_overdue):
    record(support_client, reference="rcpt-9", amount="150.00")

    response = record(support_client, reference="rcpt-9", amount="20.00")

    assert response.status_code == 200
    assert "Reference rcpt-9 was already used for a different payment" in html_of(response)
    assert Payment.objects.count() == 1
    assert installments(first_overdue)[1].amount_paid == D("50.00")


def test_paying_everything_completes_the_plan_and_counts_the_installments(support_client, first_overdue):
    response = record(support_client, amount="300.00")

    assert Plan.objects.get(pk=first_overdue.pk).status == Plan.Status.COMPLETED
    assert messages_of(support_client.get(response.url)) == [
        "Payment of 300.00 UZS recorded: 3 installments paid; customer is Normal."
    ]


def test_the_payment_page_of_an_unknown_customer_is_a_404(support_client, db):
    assert support_client.get("/customers/usr-nobody/payments/new/").status_code == 404


def test_a_user_without_a_role_cannot_record_a_payment_by_amount(client_for, first_overdue):
    browser = client_for("nobody")

    assert_refused(browser.get(RECORD_URL))
    assert_refused(browser.post(RECORD_URL, {"amount": "150.00", "reference": "r", "token": str(uuid.uuid4())}))
    assert not Payment.objects.exists()


# --- one installment's pay page: the remaining amount ------------------------------------------


def test_the_pay_page_shows_and_pays_what_remains_after_a_refund(support_client, aziz):
    plan = PlanFactory(customer=aziz, total_amount=D("300.00"), installment_count=3)
    approve(
        refunds.issue_refund(
            customer_id="usr-001", transaction_id="t", amount="150.00", plan_id=plan.pk, actor=MERCHANT
        ).refund
    )
    second = installments(plan)[1]

    page = html_of(support_client.get(pay_url(second)))
    assert re.search(r"<dt>Amount due</dt><dd>100.00 UZS</dd>", page)
    assert re.search(r"<dt>Paid</dt><dd>0.00 UZS</dd>", page)
    assert re.search(r'<dt>Remaining</dt><dd class="big">50.00 UZS</dd>', page)
    assert "Confirm that 50.00 UZS" in page

    assert pay(support_client, second).status_code == 302
    second.refresh_from_db()
    assert (second.status, second.amount_paid, second.amount_remaining) == ("PAID", D("50.00"), D("0.00"))
    assert Payment.objects.get().amount == D("50.00")


def test_the_pay_page_of_a_cancelled_installment_has_nothing_to_pay(support_client, aziz):
    plan = PlanFactory(customer=aziz, total_amount=D("300.00"), installment_count=3)
    approve(
        refunds.issue_refund(
            customer_id="usr-001", transaction_id="t", amount="100.00", plan_id=plan.pk, actor=MERCHANT
        ).refund
    )
    third = installments(plan)[2]

    html = html_of(support_client.get(pay_url(third)))

    assert "nothing remains to pay" in html and "Confirm payment" not in html
    response = support_client.post(pay_url(third), {"token": str(uuid.uuid4())})
    assert response.status_code == 200 and "Not unpaid installments of this user" in html_of(response)
    assert not Payment.objects.exists()


# --- cancelling a plan -------------------------------------------------------------------------


def test_a_plan_without_payments_is_cancelled_on_its_page(support_client, aziz):
    plan = PlanFactory(customer=aziz, total_amount=D("300.00"), installment_count=3)
    assert f'href="{cancel_url(plan)}"' in html_of(support_client.get(PROFILE_URL))

    response = with_reason(support_client, cancel_url(plan), reason="Order never shipped")

    assert response.status_code == 302 and response.url == f"{PROFILE_URL}#plan-{plan.pk}"
    assert Plan.objects.get(pk=plan.pk).status == Plan.Status.CANCELLED
    assert [(i.status, i.amount_remaining) for i in installments(plan)] == [("CANCELLED", D("0.00"))] * 3
    event = AuditEvent.objects.get(action="plan.cancelled")
    assert event.data["reason"] == "Order never shipped" and event.actor_user == support_client.user
    profile = support_client.get(response.url)
    assert messages_of(profile) == ["Plan of 300.00 UZS cancelled."]
    assert plan_badge(profile, plan) == "Cancelled"
    assert f'href="{cancel_url(plan)}"' not in html_of(profile)
    assert f'href="{RECORD_URL}"' not in html_of(profile)
    assert_ledger_consistent()


def test_a_plan_with_a_payment_has_no_cancel_link_and_its_page_refuses(support_client, plan_300_first_paid):
    plan = plan_300_first_paid
    assert f'href="{cancel_url(plan)}"' not in html_of(support_client.get(PROFILE_URL))
    before = amounts(plan)

    response = with_reason(support_client, cancel_url(plan))

    assert response.status_code == 200
    assert "Only plans without payments can be cancelled; issue a refund instead" in html_of(response)
    assert Plan.objects.get(pk=plan.pk).status == Plan.Status.ACTIVE
    assert amounts(plan) == before
    assert not AuditEvent.objects.filter(action="plan.cancelled").exists()


def test_a_cancellation_needs_a_reason(support_client, aziz):
    plan = PlanFactory(customer=aziz)

    response = with_reason(support_client, cancel_url(plan), reason="")

    assert response.status_code == 200 and 'class="field-error"' in html_of(response)
    assert Plan.objects.get(pk=plan.pk).status == Plan.Status.ACTIVE


def test_cancelling_with_the_same_token_twice_cancels_once(support_client, aziz):
    plan = PlanFactory(customer=aziz)
    token = token_of(support_client.get(cancel_url(plan)))

    first = with_reason(support_client, cancel_url(plan), token=token)
    second = with_reason(support_client, cancel_url(plan), token=token)

    assert second.status_code == 302 and second.url == first.url
    assert AuditEvent.objects.filter(action="plan.cancelled").count() == 1
    assert "This plan was already cancelled; showing it." in messages_of(support_client.get(second.url))


def test_the_page_of_a_cancelled_plan_has_no_form_and_a_second_cancel_is_refused(support_client, aziz):
    plan = PlanFactory(customer=aziz)
    stale_tab = token_of(support_client.get(cancel_url(plan)))
    with_reason(support_client, cancel_url(plan))

    assert "Cancel plan</button>" not in html_of(support_client.get(cancel_url(plan)))
    response = with_reason(support_client, cancel_url(plan), token=stale_tab)
    assert response.status_code == 200 and "Plan is already cancelled" in html_of(response)
    assert AuditEvent.objects.filter(action="plan.cancelled").count() == 1


def test_a_user_without_a_role_cannot_cancel_a_plan(client_for, aziz):
    plan = PlanFactory(customer=aziz)
    browser = client_for("nobody")

    assert_refused(browser.get(cancel_url(plan)))
    assert_refused(browser.post(cancel_url(plan), {"reason": "x", "token": str(uuid.uuid4())}))
    assert Plan.objects.get(pk=plan.pk).status == Plan.Status.ACTIVE


@pytest.mark.parametrize("path", ["/plans/00000000-0000-0000-0000-000000000000/cancel/", "/plans/x/cancel/"])
def test_an_unknown_plan_is_a_404(support_client, db, path):
    assert support_client.get(path).status_code == 404
