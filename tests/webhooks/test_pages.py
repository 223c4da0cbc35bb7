"""The webhook events pages (list, filters, detail, re-process) and the merchants page, through HTTP."""

import datetime
import re

import pytest
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.refunds.models import Refund
from bnpl_admin.webhooks import services
from bnpl_admin.webhooks.models import WebhookEvent
from bnpl_admin.webhooks.services import process_event, receive_event, rotate_secret
from tests.factories import RefundFactory
from tests.pages import HTMX, assert_fragment, assert_refused, fact, html_of, is_login_redirect, messages_of, table_rows
from tests.webhooks import merchant_with_secret

pytestmark = pytest.mark.django_db

LIST_URL = "/webhooks/"
MERCHANTS_URL = "/merchants/"


def detail_url(event) -> str:
    return f"/webhooks/{event.pk}/"


def reprocess_url(event) -> str:
    return f"/webhooks/{event.pk}/reprocess/"


def receive(shop, refund_ref, status, webhook_id, *, process=True) -> WebhookEvent:
    payload = {"refund_id": refund_ref, "status": status, "merchant_reference": f"REF-{webhook_id}"}
    event = receive_event(merchant=shop.merchant, webhook_id=webhook_id, payload=payload).event
    if process:
        process_event(event_id=event.pk)
    event.refresh_from_db()
    return event


@pytest.fixture
def events(shop, other_shop, refund, monkeypatch):
    """One event in each status; shop sent four of them, other-shop one (late, on its own refund)."""
    RefundFactory(
        transaction_id="TXN-O1",
        merchant=other_shop.merchant,
        status=Refund.Status.APPROVED,
        processed_at=timezone.now(),
    )
    processed = receive(shop, "TXN-1", "approved", "msg_processed")
    unmatched = receive(shop, "TXN-NOPE", "approved", "msg_unmatched")
    ignored = receive(other_shop, "TXN-O1", "processing", "msg_ignored")
    with monkeypatch.context() as patch:
        patch.setattr(services, "apply_merchant_status", _explode)
        failed = receive(shop, "TXN-2", "rejected", "msg_failed")
    received = receive(shop, "TXN-3", "processing", "msg_received", process=False)
    statuses = [e.status for e in (processed, unmatched, ignored, failed, received)]
    assert statuses == ["PROCESSED", "UNMATCHED", "IGNORED", "FAILED", "RECEIVED"]
    return {"processed": processed, "unmatched": unmatched, "ignored": ignored, "failed": failed, "received": received}


def _explode(**kwargs):
    raise RuntimeError("ledger timeout")


def webhook_ids(response) -> list[str]:
    return [cells[3] for cells in table_rows(response) if len(cells) > 3]


# --- who may see what --------------------------------------------------------------------------


@pytest.mark.parametrize("url", [LIST_URL, MERCHANTS_URL])
def test_anonymous_visitors_are_sent_to_login(client, url):
    assert is_login_redirect(client.get(url), url)


def test_anonymous_visitors_cannot_see_or_reprocess_an_event(client, events):
    failed = events["failed"]

    assert is_login_redirect(client.get(detail_url(failed)), detail_url(failed))
    assert is_login_redirect(client.post(reprocess_url(failed)), reprocess_url(failed))
    failed.refresh_from_db()
    assert failed.status == "FAILED"


def test_a_user_without_a_role_sees_no_events(roleless_client, events):
    assert_refused(roleless_client.get(LIST_URL))
    assert_refused(roleless_client.get(detail_url(events["processed"])))
    assert_refused(roleless_client.get(MERCHANTS_URL))


def test_support_reads_events_but_not_the_merchants_page(support_client, events):
    assert support_client.get(LIST_URL).status_code == 200
    assert support_client.get(detail_url(events["failed"])).status_code == 200
    assert_refused(support_client.get(MERCHANTS_URL))


# --- the list ----------------------------------------------------------------------------------


def test_the_list_shows_every_event_newest_first(support_client, events):
    response = support_client.get(LIST_URL)

    assert webhook_ids(response) == ["msg_received", "msg_failed", "msg_ignored", "msg_unmatched", "msg_processed"]
    rows = {cells[3]: cells for cells in table_rows(response)}
    event = events["unmatched"]
    assert rows["msg_unmatched"][0] == str(event.pk)
    assert rows["msg_unmatched"][2:8] == ["shop", "msg_unmatched", "TXN-NOPE", "approved", "Unmatched", "1"]
    assert rows["msg_unmatched"][8] == "No refund TXN-NOPE for this merchant"
    assert rows["msg_failed"][8] == "RuntimeError: ledger timeout"
    assert f'href="{detail_url(event)}"' in html_of(response)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("merchant=other-shop", ["msg_ignored"]),
        ("merchant=shop", ["msg_received", "msg_failed", "msg_unmatched", "msg_processed"]),
        ("status=FAILED", ["msg_failed"]),
        ("status=UNMATCHED", ["msg_unmatched"]),
        ("refund=TXN-1", ["msg_processed"]),
        ("refund=TXN-O1", ["msg_ignored"]),
        ("merchant=shop&refund=TXN-1", ["msg_processed"]),
        ("merchant=shop&status=IGNORED", []),
    ],
)
def test_the_list_filters_by_merchant_status_and_refund(support_client, events, query, expected):
    assert webhook_ids(support_client.get(f"{LIST_URL}?{query}")) == expected


def test_an_unknown_filter_value_is_not_an_error(support_client, events):
    response = support_client.get(f"{LIST_URL}?merchant=nobody&status=BOGUS")

    assert response.status_code == 200


def test_htmx_gets_only_the_table_fragment(support_client, events):
    response = support_client.get(f"{LIST_URL}?status=FAILED", headers=HTMX)

    html = assert_fragment(response)
    assert webhook_ids(html) == ["msg_failed"]


def test_the_list_never_shows_a_merchant_secret(risk_client, shop, events):
    html = html_of(risk_client.get(LIST_URL))

    assert shop.secret not in html
    assert shop.secret.removeprefix("whsec_") not in html


# --- the detail page ---------------------------------------------------------------------------


def test_the_detail_shows_the_payload_and_the_processing_history(support_client, events, refund):
    event = events["processed"]

    response = support_client.get(detail_url(event))

    assert response.status_code == 200
    assert fact(response, "Merchant") == "Shop Ltd (shop)"
    assert fact(response, "Webhook ID") == "msg_processed"
    assert fact(response, "Attempts") == "1"
    assert fact(response, "Detail") == "Refund is now APPROVED"
    assert fact(response, "refund_id") == "TXN-1"
    assert fact(response, "status") == "approved"
    assert fact(response, "merchant_reference") == "REF-msg_processed"
    assert "TXN-1" in fact(response, "Refund")
    html = html_of(response)
    assert f"/customers/{refund.customer.customer_id}/#refund-{refund.pk}" in html
    history = html[html.index("Processing history") :]
    assert "merchant:shop" in history
    assert "webhook.processed" in history


def test_an_unmatched_event_says_so(support_client, events):
    response = support_client.get(detail_url(events["unmatched"]))

    assert fact(response, "Refund") == "TXN-NOPE (not matched)"


def test_an_unknown_event_is_a_404(support_client, events):
    assert support_client.get("/webhooks/999999/").status_code == 404


@pytest.mark.parametrize("status", ["failed", "unmatched"])
def test_risk_sees_the_reprocess_button_on_failed_and_unmatched_events(risk_client, events, status):
    html = html_of(risk_client.get(detail_url(events[status])))

    assert f'action="{reprocess_url(events[status])}"' in html
    assert "Re-process" in html


@pytest.mark.parametrize("status", ["processed", "ignored", "received"])
def test_there_is_no_reprocess_button_on_other_events(risk_client, events, status):
    html = html_of(risk_client.get(detail_url(events[status])))

    assert "/reprocess/" not in html


def test_support_gets_no_reprocess_button(support_client, events):
    assert "/reprocess/" not in html_of(support_client.get(detail_url(events["failed"])))


# --- re-processing -----------------------------------------------------------------------------


def test_risk_reprocesses_a_failed_event(risk_client, events, run_tasks_inline, django_capture_on_commit_callbacks):
    failed = events["failed"]
    refund = RefundFactory(transaction_id="TXN-2", merchant=events["failed"].merchant)

    with django_capture_on_commit_callbacks(execute=True):
        response = risk_client.post(reprocess_url(failed), follow=True)

    assert response.redirect_chain == [(detail_url(failed), 302)]
    assert messages_of(response) == [f"Event {failed.pk} queued for processing again."]
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.refund) == ("PROCESSED", 2, refund)
    refund.refresh_from_db()
    assert refund.status == "REJECTED"
    [audit] = AuditEvent.objects.filter(action="webhook.reprocess_requested")
    assert (audit.actor_kind, audit.actor_user, audit.target_id, audit.data) == (
        "staff",
        risk_client.user,
        str(failed.pk),
        {"was": "FAILED"},
    )


def test_risk_requeues_an_unmatched_event(risk_client, events, django_capture_on_commit_callbacks):
    unmatched = events["unmatched"]

    with django_capture_on_commit_callbacks() as callbacks:
        response = risk_client.post(reprocess_url(unmatched))

    assert response.status_code == 302
    assert response.url == detail_url(unmatched)
    assert len(callbacks) == 1  # the task is queued on commit
    unmatched.refresh_from_db()
    assert unmatched.status == "RECEIVED"
    assert unmatched.detail == f"Re-queued by {risk_client.user.username} (was UNMATCHED)"


def test_the_history_shows_the_reprocess_request(risk_client, events, django_capture_on_commit_callbacks):
    failed = events["failed"]
    with django_capture_on_commit_callbacks():
        risk_client.post(reprocess_url(failed))

    html = html_of(risk_client.get(detail_url(failed)))

    assert "webhook.reprocess_requested" in html[html.index("Processing history") :]
    assert risk_client.user.username in html


def test_support_cannot_reprocess(support_client, events, django_capture_on_commit_callbacks):
    failed = events["failed"]

    with django_capture_on_commit_callbacks() as callbacks:
        assert_refused(support_client.post(reprocess_url(failed)))

    failed.refresh_from_db()
    assert (failed.status, failed.detail) == ("FAILED", "RuntimeError: ledger timeout")
    assert callbacks == []
    assert not AuditEvent.objects.filter(action="webhook.reprocess_requested").exists()


def test_a_processed_event_cannot_be_reprocessed(risk_client, events):
    processed = events["processed"]

    response = risk_client.post(reprocess_url(processed), follow=True)

    assert response.redirect_chain == [(detail_url(processed), 302)]
    assert messages_of(response) == ["Only FAILED or UNMATCHED events can be re-processed (this one is PROCESSED)"]
    processed.refresh_from_db()
    assert (processed.status, processed.attempts) == ("PROCESSED", 1)
    assert not AuditEvent.objects.filter(action="webhook.reprocess_requested").exists()


def test_reprocess_is_post_only(risk_client, events):
    failed = events["failed"]

    assert risk_client.get(reprocess_url(failed)).status_code == 405
    failed.refresh_from_db()
    assert failed.status == "FAILED"


def test_reprocessing_an_unknown_event_goes_back_to_the_list(risk_client, events):
    response = risk_client.post("/webhooks/999999/reprocess/")

    assert response.status_code == 302
    assert response.url == LIST_URL


# --- merchants ---------------------------------------------------------------------------------


def merchant_card(response, code: str) -> str:
    """The text of the merchant's card on the merchants page."""
    html = html_of(response)
    for card in html.split("<article")[1:]:
        if f"<code>{code}</code>" in card:
            return " ".join(re.sub(r"<[^>]+>", " ", card.split("</article>")[0]).split())
    raise AssertionError(f"no card for {code}")


def test_risk_sees_each_merchant_with_its_24_hour_counts(risk_client, events, shop):
    old = receive(shop, "TXN-NOPE", "approved", "msg_old")
    WebhookEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - datetime.timedelta(hours=25))

    response = risk_client.get(MERCHANTS_URL)

    assert response.status_code == 200
    shop_card = merchant_card(response, "shop")
    assert "Shop Ltd" in shop_card
    assert "1 processed" in shop_card
    assert "0 ignored" in shop_card
    assert "1 unmatched" in shop_card  # the 25-hour-old one is not counted
    assert "1 failed" in shop_card
    assert "1 waiting" in shop_card
    other_card = merchant_card(response, "other-shop")
    assert "1 ignored" in other_card and "0 processed" in other_card
    assert f'href="{LIST_URL}?merchant=shop"' in html_of(response)


def test_the_merchants_page_lists_recent_events(risk_client, events):
    response = risk_client.get(MERCHANTS_URL)

    shop_card = merchant_card(response, "shop")
    assert "TXN-NOPE → approved" in shop_card
    assert f'href="{detail_url(events["failed"])}"' in html_of(response)
    assert "TXN-O1 → processing Ignored" in merchant_card(response, "other-shop")


def test_a_merchant_without_events_says_so(risk_client, db):
    merchant_with_secret("quiet-shop", name="Quiet Shop")

    assert "No events yet" in merchant_card(risk_client.get(MERCHANTS_URL), "quiet-shop")


def test_the_merchants_page_shows_inactive_merchants_and_rotations_but_no_secret(risk_client, shop, db):
    closed = merchant_with_secret("closed-shop", name="Closed", is_active=False)
    _, new_secret = rotate_secret(code=shop.code, actor=Actor.system("test"))

    response = risk_client.get(MERCHANTS_URL)

    assert "Inactive" in merchant_card(response, "closed-shop")
    assert "previous secret valid until" in merchant_card(response, "shop")
    html = html_of(response)
    for secret in (shop.secret, new_secret, closed.secret):
        assert secret not in html
        assert secret.removeprefix("whsec_") not in html
