"""Issuing a refund (form, review, confirm: exactly once) and cancelling a PENDING one, through HTTP."""

import re
import uuid
from decimal import Decimal

import pytest

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.refunds.models import Refund
from bnpl_admin.staff.models import FormSubmission
from tests.factories import CustomerFactory, MerchantFactory, PlanFactory, RefundFactory
from tests.pages import (
    assert_refused,
    fact,
    html_of,
    is_login_redirect,
    messages_of,
    rows_by_id,
    token_of,
)

pytestmark = pytest.mark.django_db

ISSUE_URL = "/customers/usr-001/refunds/new/"
ONLY_PENDING = "Only PENDING refunds can be cancelled"


def cancel_url(refund) -> str:
    return f"/refunds/{refund.pk}/cancel/"


def issue(browser, *, step="confirm", token=None, url=ISSUE_URL, **fields):
    """POST the refund form at `step` ("review" or "confirm") with a fresh token unless one is given."""
    data = {"transaction_id": "TXN-1001", "amount": "120.00", "plan": "", "reason": "Returned goods", **fields}
    token = token or token_of(browser.get(url))
    return browser.post(url, {**data, "token": token, "step": step})


def cancel(browser, refund, *, reason="Customer changed their mind", token=None):
    token = token or token_of(browser.get(cancel_url(refund)))
    return browser.post(cancel_url(refund), {"reason": reason, "token": token})


@pytest.fixture
def plan(aziz):
    return PlanFactory(customer=aziz, total_amount=Decimal("500.00"))


@pytest.fixture
def pending(aziz):
    return RefundFactory(customer=aziz, transaction_id="TXN-PENDING", amount=Decimal("75.00"))


# --- permissions -------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login_and_issue_nothing(client_for, aziz):
    browser = client_for("anonymous")

    assert is_login_redirect(browser.get(ISSUE_URL), ISSUE_URL)
    assert is_login_redirect(issue(browser, token=str(uuid.uuid4())), ISSUE_URL)
    assert not Refund.objects.exists()


def test_anonymous_visitors_cannot_cancel_a_refund(client_for, pending):
    browser = client_for("anonymous")

    assert is_login_redirect(browser.get(cancel_url(pending)), cancel_url(pending))
    assert is_login_redirect(cancel(browser, pending, token=str(uuid.uuid4())), cancel_url(pending))
    pending.refresh_from_db()
    assert pending.status == Refund.Status.PENDING


def test_a_user_without_a_role_can_neither_issue_nor_cancel(client_for, pending):
    browser = client_for("nobody")

    assert_refused(browser.get(ISSUE_URL))
    assert_refused(issue(browser, token=str(uuid.uuid4())))
    assert_refused(browser.get(cancel_url(pending)))
    assert_refused(cancel(browser, pending, token=str(uuid.uuid4())))
    assert list(Refund.objects.values_list("transaction_id", "status")) == [("TXN-PENDING", "PENDING")]


@pytest.mark.parametrize("role", ["support", "risk", "admin"])
def test_every_role_can_issue_a_refund(client_for, aziz, role):
    browser = client_for(role)

    issue(browser)

    refund = Refund.objects.get(transaction_id="TXN-1001")
    assert refund.created_by == browser.user


@pytest.mark.parametrize("role", ["support", "risk", "admin"])
def test_every_role_can_cancel_a_pending_refund(client_for, pending, role):
    cancel(client_for(role), pending)

    pending.refresh_from_db()
    assert pending.status == Refund.Status.REJECTED


# --- issuing -----------------------------------------------------------------------------------


def test_the_refund_form_lists_the_customers_plans_and_carries_a_token(support_client, plan):
    PlanFactory()  # someone else's plan
    response = support_client.get(ISSUE_URL)
    html = html_of(response)

    assert response.status_code == 200
    assert token_of(response)
    assert '<option value="" selected>No plan</option>' in html
    assert f'<option value="{plan.pk}">' in html
    plan_choices = re.search(r'<select name="plan".*?</select>', html, re.S).group(0)
    assert plan_choices.count("<option value=") == 2


def test_a_plan_in_the_query_string_is_preselected(support_client, plan):
    html = html_of(support_client.get(ISSUE_URL, {"plan": str(plan.pk)}))

    assert f'<option value="{plan.pk}" selected>' in html


def test_the_profile_refund_button_links_to_the_form_with_the_plan(support_client, plan):
    html = html_of(support_client.get("/customers/usr-001/"))

    assert f'href="/customers/usr-001/refunds/new/?plan={plan.pk}"' in html


def test_the_refund_form_of_an_unknown_customer_is_a_404(support_client, db):
    assert support_client.get("/customers/usr-nobody/refunds/new/").status_code == 404


def test_the_review_step_shows_the_values_to_confirm_and_creates_nothing(support_client, plan):
    token = token_of(support_client.get(ISSUE_URL))

    response = issue(support_client, step="review", token=token, amount="1250.5", plan=str(plan.pk))
    html = html_of(response)

    assert response.status_code == 200
    assert "Confirm refund" in html
    assert fact(response, "Transaction ID") == "TXN-1001"
    assert fact(response, "Amount") == "1,250.50 UZS"
    assert fact(response, "Plan").startswith("500.00 UZS from")
    assert fact(response, "Reason") == "Returned goods"
    assert '<input type="hidden" name="step" value="confirm">' in html
    assert f'name="token" value="{token}"' in html
    assert not Refund.objects.exists()
    assert not FormSubmission.objects.exists()
    assert not AuditEvent.objects.filter(action="refund.issued").exists()


def test_the_review_step_with_invalid_input_shows_the_form_again(support_client, aziz):
    response = issue(support_client, step="review", amount="-5")

    assert response.status_code == 200
    assert "Confirm refund" not in html_of(response)
    assert 'class="field-error"' in html_of(response)


def test_confirming_creates_one_pending_refund_and_redirects_to_it(support_client, plan):
    response = issue(support_client, plan=str(plan.pk))

    refund = Refund.objects.get()
    assert response.status_code == 302 and response.url == f"/customers/usr-001/#refund-{refund.pk}"
    assert refund.status == Refund.Status.PENDING
    assert (refund.transaction_id, refund.amount, refund.plan, refund.reason) == (
        "TXN-1001",
        Decimal("120.00"),
        plan,
        "Returned goods",
    )
    assert refund.customer.customer_id == "usr-001"
    event = AuditEvent.objects.get(action="refund.issued")
    assert event.target_id == str(refund.pk) and event.actor_user == support_client.user
    profile = support_client.get(response.url)
    assert "Refund of 120.00 UZS for TXN-1001 issued." in messages_of(profile)
    assert f'id="refund-{refund.pk}"' in html_of(profile)


def test_review_then_confirm_with_the_same_token_issues_the_refund(support_client, aziz):
    token = token_of(support_client.get(ISSUE_URL))

    issue(support_client, step="review", token=token)
    issue(support_client, step="confirm", token=token)

    assert Refund.objects.count() == 1


def test_submitting_the_same_token_twice_issues_one_refund(support_client, aziz):
    token = token_of(support_client.get(ISSUE_URL))

    first = issue(support_client, token=token)
    second = issue(support_client, token=token)

    assert Refund.objects.count() == 1
    assert AuditEvent.objects.filter(action="refund.issued").count() == 1
    assert second.status_code == 302 and second.url == first.url
    assert any("already issued" in m for m in messages_of(support_client.get(second.url)))


def test_the_same_transaction_and_amount_with_a_new_token_shows_the_existing_refund(support_client, aziz):
    first = issue(support_client)

    second = issue(support_client)

    existing = Refund.objects.get()
    assert second.status_code == 302 and second.url == first.url == f"/customers/usr-001/#refund-{existing.pk}"
    messages = messages_of(support_client.get(second.url))
    assert "A refund for transaction TXN-1001 was already issued; showing it." in messages
    assert AuditEvent.objects.filter(action="refund.issued").count() == 1


def test_the_same_transaction_with_a_different_amount_is_a_conflict_and_creates_nothing(support_client, aziz):
    issue(support_client)

    response = issue(support_client, amount="130.00")

    assert response.status_code == 200
    assert "Transaction TXN-1001 was already refunded with a different user or amount" in html_of(response)
    assert list(Refund.objects.values_list("amount", flat=True)) == [Decimal("120.00")]


def test_the_same_transaction_for_another_customer_is_a_conflict(support_client, aziz):
    CustomerFactory(customer_id="usr-002")
    issue(support_client)

    response = issue(support_client, url="/customers/usr-002/refunds/new/")

    assert response.status_code == 200
    assert "already refunded with a different user or amount" in html_of(response)
    assert Refund.objects.count() == 1


def test_a_failed_confirmation_leaves_its_token_usable_once_corrected(support_client, plan):
    token = token_of(support_client.get(ISSUE_URL))

    refused = issue(support_client, token=token, plan=str(plan.pk), amount="500.01")
    accepted = issue(support_client, token=token, plan=str(plan.pk), amount="500.00")

    assert refused.status_code == 200 and accepted.status_code == 302
    assert Refund.objects.get().amount == Decimal("500.00")


def test_an_amount_above_what_the_plan_still_allows_is_a_form_error(support_client, plan, aziz):
    RefundFactory(customer=aziz, plan=plan, amount=Decimal("400.00"))
    RefundFactory(customer=aziz, plan=plan, amount=Decimal("300.00"), status=Refund.Status.REJECTED)

    response = issue(support_client, plan=str(plan.pk), amount="100.01")

    assert response.status_code == 200
    assert "exceeds what plan" in html_of(response) and "(100.00)" in html_of(response)
    assert not Refund.objects.filter(transaction_id="TXN-1001").exists()

    issue(support_client, plan=str(plan.pk), amount="100.00")
    assert Refund.objects.get(transaction_id="TXN-1001").amount == Decimal("100.00")


def test_a_plan_of_another_customer_is_refused(support_client, aziz):
    foreign = PlanFactory()

    response = issue(support_client, plan=str(foreign.pk))

    assert response.status_code == 200
    assert 'class="field-error"' in html_of(response)
    assert not Refund.objects.exists()


def test_the_refund_form_offers_every_merchant_and_none(support_client, aziz):
    MerchantFactory(code="shop", name="Shop Ltd")
    MerchantFactory(code="bazaar", name="Bazaar")

    html = html_of(support_client.get(ISSUE_URL))

    choices = re.search(r'<select name="merchant".*?</select>', html, re.S).group(0)
    assert re.findall(r'<option value="([^"]*)"', choices) == ["", "bazaar", "shop"]


def test_a_refund_without_a_plan_is_issued_for_the_merchant_chosen(support_client, aziz):
    shop = MerchantFactory(code="shop", name="Shop Ltd")

    review = issue(support_client, step="review", merchant="shop")
    assert fact(review, "Merchant") == "Shop Ltd"
    assert 'name="merchant" value="shop"' in html_of(review)

    issue(support_client, merchant="shop")
    assert Refund.objects.get().merchant == shop


def test_a_refund_on_a_plan_is_issued_for_the_plans_merchant(support_client, aziz):
    plan = PlanFactory(customer=aziz, merchant=MerchantFactory(code="shop", name="Shop Ltd"))

    assert fact(issue(support_client, step="review", plan=str(plan.pk)), "Merchant") == "Shop Ltd"
    issue(support_client, plan=str(plan.pk))

    assert Refund.objects.get().merchant == plan.merchant


def test_a_refund_on_a_plan_naming_another_merchant_is_refused_and_creates_nothing(support_client, aziz):
    plan = PlanFactory(customer=aziz, merchant=MerchantFactory(code="shop"))
    MerchantFactory(code="rival", name="Rival")

    review = issue(support_client, step="review", plan=str(plan.pk), merchant="rival")
    assert fact(review, "Merchant") == "Rival"  # what the agent chose, not silently replaced
    response = issue(support_client, plan=str(plan.pk), merchant="rival")

    assert response.status_code == 200
    assert "its refund cannot name rival" in html_of(response)
    assert not Refund.objects.exists()


def test_an_unknown_merchant_is_a_form_error(support_client, aziz):
    response = issue(support_client, merchant="nobody")

    assert response.status_code == 200
    assert 'class="field-error"' in html_of(response)
    assert not Refund.objects.exists()


@pytest.mark.parametrize("amount", ["0", "-5", "1.234", "abc", "", "NaN", "1e400", "99999999999999999999"])
def test_an_invalid_amount_is_a_form_error_and_creates_nothing(support_client, aziz, amount):
    response = issue(support_client, amount=amount)

    assert response.status_code == 200
    assert 'class="field-error"' in html_of(response)
    assert not Refund.objects.exists()


@pytest.mark.parametrize("transaction_id", ["", "   ", "x" * 65])
def test_a_missing_or_too_long_transaction_id_is_a_form_error(support_client, aziz, transaction_id):
    response = issue(support_client, transaction_id=transaction_id)

    assert response.status_code == 200
    assert 'class="field-error"' in html_of(response)
    assert not Refund.objects.exists()


# --- cancelling --------------------------------------------------------------------------------


def test_the_cancel_page_of_a_pending_refund_asks_for_a_reason(support_client, pending):
    response = support_client.get(cancel_url(pending))
    html = html_of(response)

    assert response.status_code == 200
    assert "TXN-PENDING" in html and 'name="reason"' in html
    assert token_of(response)


@pytest.mark.parametrize("reason", ["", "   "])
def test_cancelling_without_a_reason_is_a_form_error_and_changes_nothing(support_client, pending, reason):
    response = cancel(support_client, pending, reason=reason)

    assert response.status_code == 200
    assert 'class="field-error"' in html_of(response)
    pending.refresh_from_db()
    assert pending.status == Refund.Status.PENDING
    assert not AuditEvent.objects.filter(action="refund.status_changed").exists()


def test_cancelling_a_pending_refund_rejects_it_with_the_reason_and_audits_it(support_client, pending):
    response = cancel(support_client, pending, reason="Duplicate order")

    pending.refresh_from_db()
    assert response.status_code == 302 and response.url == f"/customers/usr-001/#refund-{pending.pk}"
    assert pending.status == Refund.Status.REJECTED
    assert pending.status_detail.startswith("Cancelled by staff")
    assert "Duplicate order" in pending.status_detail
    assert pending.processed_at is not None
    event = AuditEvent.objects.get(action="refund.status_changed")
    assert event.actor_user == support_client.user and event.target_id == str(pending.pk)
    assert event.data["from"] == "PENDING" and event.data["to"] == "REJECTED"
    assert "Refund TXN-PENDING cancelled." in messages_of(support_client.get(response.url))


def test_a_refund_staff_cancelled_shows_that_outcome_and_keeps_its_reason(support_client, pending):
    issued_with = pending.reason
    cancel(support_client, pending, reason="Duplicate order")

    pending.refresh_from_db()
    assert pending.reason == issued_with and pending.cancelled_by_staff
    row = rows_by_id(support_client.get("/customers/usr-001/"))[f"refund-{pending.pk}"]
    assert row[2].startswith("Cancelled by staff") and "Rejected" not in row[2]
    assert row[4] == (issued_with or "—")


def test_cancelling_twice_with_the_same_token_audits_once(support_client, pending):
    token = token_of(support_client.get(cancel_url(pending)))

    first = cancel(support_client, pending, token=token)
    second = cancel(support_client, pending, token=token)

    assert second.status_code == 302 and second.url == first.url
    assert AuditEvent.objects.filter(action="refund.status_changed").count() == 1


@pytest.mark.parametrize("status", [Refund.Status.PROCESSING, Refund.Status.APPROVED, Refund.Status.REJECTED])
def test_the_cancel_page_of_a_non_pending_refund_says_only_pending_ones_can_be(support_client, aziz, status):
    refund = RefundFactory(customer=aziz, status=status)

    html = html_of(support_client.get(cancel_url(refund)))

    assert ONLY_PENDING in html
    assert 'name="reason"' not in html


@pytest.mark.parametrize("status", [Refund.Status.PROCESSING, Refund.Status.APPROVED, Refund.Status.REJECTED])
def test_cancelling_a_non_pending_refund_is_refused_and_changes_nothing(support_client, aziz, status):
    refund = RefundFactory(customer=aziz, status=status)

    response = cancel(support_client, refund, token=str(uuid.uuid4()))

    assert response.status_code == 200
    assert ONLY_PENDING in html_of(response)
    refund.refresh_from_db()
    assert refund.status == status
    assert not AuditEvent.objects.filter(action="refund.status_changed").exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_cancelling_an_unknown_refund_is_a_404(support_client, db, method):
    response = getattr(support_client, method)(f"/refunds/{uuid.uuid4()}/cancel/", {"reason": "x"})

    assert response.status_code == 404


def test_edit_on_the_review_page_returns_to_the_filled_form_and_creates_nothing(support_client, aziz):
    token = token_of(support_client.get(ISSUE_URL))

    response = issue(support_client, step="form", token=token, amount="42.00")
    html = html_of(response)

    assert response.status_code == 200
    assert 'value="42.00"' in html and 'value="TXN-1001"' in html
    assert '<input type="hidden" name="step" value="review">' in html
    assert not Refund.objects.exists()


@pytest.mark.parametrize("step", ["bogus", ""])
def test_an_unknown_step_creates_nothing(support_client, aziz, step):
    response = issue(support_client, step=step)

    assert response.status_code == 200
    assert not Refund.objects.exists()
