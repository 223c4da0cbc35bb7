"""Plan creation (with its live preview) and payment recording, through HTTP."""

import datetime
import re
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.plans.schedule import add_months
from bnpl_admin.plans.services import check_overdue
from bnpl_admin.staff.models import FormSubmission
from tests.factories import MerchantFactory, PlanFactory
from tests.pages import (
    HTMX,
    assert_fragment,
    assert_refused,
    html_of,
    is_login_redirect,
    messages_of,
    table_rows,
    token_of,
)

pytestmark = pytest.mark.django_db

DEBT_REFUSAL = "Users with DEBT_USER status cannot create new BNPL plans"
CREATE_URL = "/customers/usr-001/plans/new/"


def pay_url(installment) -> str:
    return f"/installments/{installment.pk}/pay/"


def create_plan_through_the_page(browser, *, total_amount="500.00", installment_count="3", token=None):
    token = token or token_of(browser.get(CREATE_URL))
    return browser.post(
        CREATE_URL, {"total_amount": total_amount, "installment_count": installment_count, "token": token}
    )


def pay_through_the_page(browser, installment, token=None):
    token = token or token_of(browser.get(pay_url(installment)))
    return browser.post(pay_url(installment), {"token": token})


@pytest.fixture
def plan(aziz):
    return PlanFactory(customer=aziz, total_amount=Decimal("500.00"), installment_count=3)


@pytest.fixture
def in_debt(aziz):
    """Aziz is a DEBT_USER: a 900.00 plan in 3 started 75 days ago has installments 1 and 2 overdue."""
    start = timezone.localdate() - datetime.timedelta(days=75)
    debt_plan = PlanFactory(customer=aziz, total_amount=Decimal("900.00"), installment_count=3, start_date=start)
    check_overdue(as_of=timezone.localdate())
    aziz.refresh_from_db()
    assert aziz.status == Customer.Status.DEBT_USER
    return debt_plan


# --- permissions -------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login_and_create_nothing(client_for, aziz):
    browser = client_for("anonymous")

    assert is_login_redirect(browser.get(CREATE_URL), CREATE_URL)
    response = browser.post(CREATE_URL, {"total_amount": "500.00", "installment_count": "3", "token": uuid.uuid4()})
    assert is_login_redirect(response, CREATE_URL)
    assert not Plan.objects.exists()


def test_anonymous_visitors_cannot_record_a_payment(client_for, plan):
    installment = plan.installments.get(number=1)
    browser = client_for("anonymous")

    assert is_login_redirect(browser.get(pay_url(installment)), pay_url(installment))
    assert is_login_redirect(browser.post(pay_url(installment), {"token": uuid.uuid4()}), pay_url(installment))
    installment.refresh_from_db()
    assert installment.status == Installment.Status.UPCOMING


def test_a_user_without_a_role_cannot_open_or_post_the_plan_form(client_for, aziz):
    browser = client_for("nobody")

    assert_refused(browser.get(CREATE_URL))
    assert_refused(
        browser.post(CREATE_URL, {"total_amount": "500.00", "installment_count": "3", "token": uuid.uuid4()})
    )
    assert not Plan.objects.exists()


def test_a_user_without_a_role_cannot_record_a_payment(client_for, plan):
    installment = plan.installments.get(number=1)
    browser = client_for("nobody")

    assert_refused(browser.get(pay_url(installment)))
    assert_refused(browser.post(pay_url(installment), {"token": uuid.uuid4()}))
    installment.refresh_from_db()
    assert installment.status == Installment.Status.UPCOMING
    assert not AuditEvent.objects.filter(action="payment.recorded").exists()


@pytest.mark.parametrize("role", ["support", "risk", "admin"])
def test_every_role_can_create_a_plan(client_for, aziz, role):
    browser = client_for(role)

    response = create_plan_through_the_page(browser)

    assert response.status_code == 302
    plan = Plan.objects.get(customer=aziz)
    assert plan.created_by == browser.user


@pytest.mark.parametrize("role", ["support", "risk", "admin"])
def test_every_role_can_record_a_payment(client_for, plan, role):
    installment = plan.installments.get(number=1)

    response = pay_through_the_page(client_for(role), installment)

    assert response.status_code == 302
    installment.refresh_from_db()
    assert installment.status == Installment.Status.PAID


# --- plan creation -----------------------------------------------------------------------------


def test_the_plan_form_carries_a_fresh_one_time_token(support_client, aziz):
    first = support_client.get(CREATE_URL)
    second = support_client.get(CREATE_URL)
    html = html_of(first)

    assert first.status_code == 200
    assert 'name="total_amount"' in html and 'name="installment_count"' in html
    assert '<option value="3" selected>' in html
    assert token_of(first) != token_of(second)
    assert "Enter an amount to see the installments." in html


def test_the_plan_form_of_an_unknown_customer_is_a_404(support_client, db):
    assert support_client.get("/customers/usr-nobody/plans/new/").status_code == 404


def test_the_htmx_preview_shows_the_split_in_cents_and_creates_nothing(support_client, aziz):
    today = timezone.localdate()

    response = support_client.get(CREATE_URL, {"total_amount": "500.00", "installment_count": "3"}, headers=HTMX)

    assert_fragment(response, '<div id="preview"')
    assert table_rows(response) == [
        ["1", f"{add_months(today, 1):%Y-%m-%d}", "166.67 UZS"],
        ["2", f"{add_months(today, 2):%Y-%m-%d}", "166.67 UZS"],
        ["3", f"{add_months(today, 3):%Y-%m-%d}", "166.66 UZS"],
    ]
    assert not Plan.objects.exists()


@pytest.mark.parametrize(
    ("total_amount", "installment_count"), [("abc", "3"), ("0", "3"), ("500", "1"), ("500", "25"), ("", "")]
)
def test_the_htmx_preview_of_incomplete_input_shows_the_hint_not_an_error(
    support_client, aziz, total_amount, installment_count
):
    response = support_client.get(
        CREATE_URL, {"total_amount": total_amount, "installment_count": installment_count}, headers=HTMX
    )

    html = assert_fragment(response, '<div id="preview"')
    assert "Enter an amount to see the installments." in html


def test_posting_the_form_creates_one_plan_and_redirects_to_the_profile(support_client, aziz):
    response = create_plan_through_the_page(support_client)

    plan = Plan.objects.get(customer=aziz)
    assert response.status_code == 302
    assert response.url == f"/customers/usr-001/#plan-{plan.pk}"
    assert plan.total_amount == Decimal("500.00") and plan.installment_count == 3
    assert plan.status == Plan.Status.ACTIVE
    assert [i.amount_due for i in plan.installments.order_by("number")] == [
        Decimal("166.67"),
        Decimal("166.67"),
        Decimal("166.66"),
    ]
    event = AuditEvent.objects.get(action="plan.created", target_id=str(plan.pk))
    assert event.actor_user == support_client.user and event.customer_ref == "usr-001"

    profile = support_client.get(response.url)
    assert "Plan of 500.00 UZS in 3 installments created." in messages_of(profile)
    assert f'id="plan-{plan.pk}"' in html_of(profile)


def test_submitting_the_same_token_twice_creates_exactly_one_plan(support_client, aziz):
    token = token_of(support_client.get(CREATE_URL))

    first = create_plan_through_the_page(support_client, token=token)
    second = create_plan_through_the_page(support_client, token=token)

    assert Plan.objects.filter(customer=aziz).count() == 1
    assert Installment.objects.filter(customer=aziz).count() == 3
    assert AuditEvent.objects.filter(action="plan.created").count() == 1
    assert second.status_code == 302 and second.url == first.url
    assert "This plan was already created; showing it." in messages_of(support_client.get(second.url))


def test_a_new_token_creates_a_second_plan(support_client, aziz):
    create_plan_through_the_page(support_client)
    create_plan_through_the_page(support_client)

    assert Plan.objects.filter(customer=aziz).count() == 2


def test_the_plan_form_of_a_debt_user_shows_the_refusal(support_client, in_debt):
    html = html_of(support_client.get(CREATE_URL))

    assert DEBT_REFUSAL in html
    # Said before the form is filled in: its fields and its button are disabled.
    assert re.search(r'<fieldset class="plain" disabled>', html)
    assert re.search(r'<button type="submit" class="primary" data-once disabled', html)


def test_a_debt_users_profile_shows_new_plan_disabled_with_the_reason(support_client, in_debt, aziz):
    html = html_of(support_client.get("/customers/usr-001/"))

    assert 'href="/customers/usr-001/plans/new/"' not in html
    assert 'aria-disabled="true" aria-describedby="new-plan-refused">New plan</span>' in html
    assert "No new plan: the customer is in debt." in html


def test_a_normal_customers_profile_links_new_plan(support_client, aziz):
    html = html_of(support_client.get("/customers/usr-001/"))

    assert '<a class="button primary" href="/customers/usr-001/plans/new/">New plan</a>' in html
    assert '<fieldset class="plain">' in html_of(support_client.get(CREATE_URL))


def test_a_plan_made_from_the_page_belongs_to_the_merchant_chosen(support_client, aziz):
    merchant = MerchantFactory(code="tashkent-tech")
    MerchantFactory(code="closed-shop", is_active=False)
    page = html_of(support_client.get(CREATE_URL))
    assert '<option value="tashkent-tech">' in page and "closed-shop" not in page

    token = token_of(support_client.get(CREATE_URL))
    support_client.post(
        CREATE_URL, {"total_amount": "300.00", "installment_count": "3", "merchant": "tashkent-tech", "token": token}
    )

    plan = Plan.objects.get(customer=aziz)
    assert plan.merchant == merchant
    assert AuditEvent.objects.get(action="plan.created").data["merchant"] == "tashkent-tech"


@pytest.mark.parametrize(
    ("merchant", "error"),
    [
        ("closed-shop", "Select a valid choice"),
        ("no-such-shop", "Select a valid choice"),
        ("x\x00", "Null characters are not allowed."),
    ],
)
def test_an_unknown_or_closed_merchant_is_a_form_error_and_creates_nothing(support_client, aziz, merchant, error):
    MerchantFactory(code="closed-shop", is_active=False)
    token = token_of(support_client.get(CREATE_URL))

    response = support_client.post(
        CREATE_URL, {"total_amount": "300.00", "installment_count": "3", "merchant": merchant, "token": token}
    )

    assert response.status_code == 200 and error in html_of(response)
    assert not Plan.objects.exists()


def test_a_debt_user_gets_no_plan_and_the_form_shows_the_refusal(support_client, in_debt):
    response = create_plan_through_the_page(support_client)

    assert response.status_code == 200
    assert DEBT_REFUSAL in html_of(response)
    assert list(Plan.objects.all()) == [in_debt]
    assert not FormSubmission.objects.filter(action="plan.create").exists()


@pytest.mark.parametrize(
    "total_amount",
    ["0", "-1", "1.234", "abc", "", "1e400", "NaN", "Infinity", "99999999999999999999", "1000000000000.00"],
)
def test_an_invalid_amount_is_a_form_error_and_creates_nothing(support_client, aziz, total_amount):
    response = create_plan_through_the_page(support_client, total_amount=total_amount)

    assert response.status_code == 200
    assert 'class="field-error"' in html_of(response)
    assert not Plan.objects.exists()
    assert not FormSubmission.objects.exists()


@pytest.mark.parametrize("installment_count", ["1", "25", "0", "-3", "abc", "3.5", ""])
def test_an_invalid_installment_count_is_a_form_error_and_creates_nothing(support_client, aziz, installment_count):
    response = create_plan_through_the_page(support_client, installment_count=installment_count)

    assert response.status_code == 200
    assert 'class="field-error"' in html_of(response)
    assert not Plan.objects.exists()


@pytest.mark.parametrize("installment_count", ["2", "24"])
def test_the_installment_count_bounds_are_accepted(support_client, aziz, installment_count):
    create_plan_through_the_page(support_client, total_amount="1000.00", installment_count=installment_count)

    assert Plan.objects.get(customer=aziz).installments.count() == int(installment_count)


def test_an_amount_smaller_than_a_cent_per_installment_is_a_form_error(support_client, aziz):
    response = create_plan_through_the_page(support_client, total_amount="0.02", installment_count="3")

    assert response.status_code == 200
    assert 'class="form-errors"' in html_of(response)
    assert not Plan.objects.exists()


@pytest.mark.parametrize("token", ["not-a-uuid", ""])
def test_a_missing_or_forged_token_is_a_form_error_and_creates_nothing(support_client, aziz, token):
    response = support_client.post(CREATE_URL, {"total_amount": "500.00", "installment_count": "3", "token": token})

    assert response.status_code == 200
    assert not Plan.objects.exists()


def test_a_token_already_used_for_a_payment_cannot_create_a_plan_and_is_not_a_500(support_client, plan):
    token = token_of(support_client.get(pay_url(plan.installments.get(number=1))))
    pay_through_the_page(support_client, plan.installments.get(number=1), token=token)
    support_client.raise_request_exception = False

    response = create_plan_through_the_page(support_client, token=token)

    assert response.status_code < 500
    assert Plan.objects.count() == 1


def test_a_token_used_by_another_agent_creates_nothing_more_and_is_not_a_500(client_for, aziz):
    first, second = client_for("support"), client_for("support")
    token = token_of(first.get(CREATE_URL))
    create_plan_through_the_page(first, token=token)
    second.raise_request_exception = False

    response = create_plan_through_the_page(second, token=token)

    assert response.status_code < 500
    assert Plan.objects.count() == 1


# --- payments ----------------------------------------------------------------------------------


def test_the_payment_page_asks_for_confirmation(support_client, plan):
    installment = plan.installments.get(number=1)

    response = support_client.get(pay_url(installment))
    html = html_of(response)

    assert response.status_code == 200
    assert "Confirm payment" in html and "166.67 UZS" in html
    assert token_of(response)
    installment.refresh_from_db()
    assert installment.status == Installment.Status.UPCOMING


def test_posting_the_payment_pays_the_installment_and_audits_it(support_client, plan):
    installment = plan.installments.get(number=1)

    response = pay_through_the_page(support_client, installment)

    installment.refresh_from_db()
    plan.refresh_from_db()
    assert response.status_code == 302 and response.url == f"/customers/usr-001/#plan-{plan.pk}"
    assert installment.status == Installment.Status.PAID and installment.paid_at is not None
    assert plan.status == Plan.Status.ACTIVE
    event = AuditEvent.objects.get(action="payment.recorded")
    assert event.data["allocations"][0]["installment_id"] == installment.pk
    assert event.actor_user == support_client.user
    assert "Payment of installment #1 recorded. Plan is active; customer is Normal." in messages_of(
        support_client.get(response.url)
    )


def test_paying_the_last_installment_completes_the_plan(support_client, plan):
    for installment in plan.installments.order_by("number"):
        response = pay_through_the_page(support_client, installment)

    plan.refresh_from_db()
    assert plan.status == Plan.Status.COMPLETED
    assert not plan.installments.exclude(status=Installment.Status.PAID).exists()
    profile = support_client.get(response.url)
    assert "Payment of installment #3 recorded. Plan is completed; customer is Normal." in messages_of(profile)
    assert "Record payment" not in html_of(profile)


def test_paying_every_overdue_installment_returns_a_debt_user_to_normal(support_client, in_debt):
    first, second = in_debt.installments.filter(status=Installment.Status.OVERDUE).order_by("number")

    pay_through_the_page(support_client, first)
    assert Customer.objects.get(customer_id="usr-001").status == Customer.Status.DEBT_USER
    response = pay_through_the_page(support_client, second)

    assert Customer.objects.get(customer_id="usr-001").status == Customer.Status.NORMAL
    assert AuditEvent.objects.filter(action="customer.status_changed", data__to="NORMAL").count() == 1
    profile = support_client.get(response.url)
    assert "Payment of installment #2 recorded. Plan is active; customer is Normal." in messages_of(profile)
    assert '<span class="badge badge-normal">Normal</span>' in html_of(profile).split("</h1>", 1)[0]


def test_submitting_the_same_payment_token_twice_pays_once(support_client, plan):
    installment = plan.installments.get(number=1)
    token = token_of(support_client.get(pay_url(installment)))

    first = pay_through_the_page(support_client, installment, token=token)
    second = pay_through_the_page(support_client, installment, token=token)

    assert AuditEvent.objects.filter(action="payment.recorded").count() == 1
    assert second.status_code == 302 and second.url == first.url
    assert "This payment was already recorded." in messages_of(support_client.get(second.url))


def test_the_payment_page_of_a_paid_installment_says_so_without_a_form(support_client, plan):
    installment = plan.installments.get(number=1)
    pay_through_the_page(support_client, installment)

    html = html_of(support_client.get(pay_url(installment)))

    assert "This installment was paid on" in html
    assert "Confirm payment" not in html


def test_paying_an_already_paid_installment_again_is_an_error_message_not_a_500(support_client, plan):
    installment = plan.installments.get(number=1)
    pay_through_the_page(support_client, installment)

    response = support_client.post(pay_url(installment), {"token": str(uuid.uuid4())})

    assert response.status_code == 200
    assert f"Not unpaid installments of this user: {installment.pk}" in html_of(response)
    assert AuditEvent.objects.filter(action="payment.recorded").count() == 1


def test_a_payment_with_a_forged_token_pays_nothing(support_client, plan):
    installment = plan.installments.get(number=1)

    response = support_client.post(pay_url(installment), {"token": "forged"})

    assert response.status_code == 200
    installment.refresh_from_db()
    assert installment.status == Installment.Status.UPCOMING


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_unknown_installment_is_a_404(support_client, db, method):
    response = getattr(support_client, method)("/installments/999999/pay/", {"token": str(uuid.uuid4())})

    assert response.status_code == 404
