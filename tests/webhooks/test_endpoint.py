"""POST /webhook/refund-status/: the merchants' signed refund-status webhook (the external contract).

A request is either refused with a JSON error and leaves no trace (no event, no task, the refund as
it was), or stored durably and answered 202; processing runs after commit (here in-process).
"""

import datetime
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import AsyncRequestFactory, Client
from django.utils import timezone
from django_q.models import OrmQ
from standardwebhooks import Webhook

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.refunds.models import Refund
from bnpl_admin.webhooks import endpoint
from bnpl_admin.webhooks.models import WebhookEvent
from bnpl_admin.webhooks.services import PROCESS_TASK, rotate_secret
from tests.factories import RefundFactory
from tests.webhooks import WEBHOOK_URL, merchant_with_secret, post_raw, send, sign, stored_events

pytestmark = pytest.mark.django_db

MISSING_FIELDS = {"error": "Missing required fields: refund_id and status"}
INVALID_STATUS = {"error": "Invalid status. Must be one of: approved, rejected, processing, failed"}
LIMIT = 64 * 1024
APPROVE = {"refund_id": "TXN-1", "status": "approved", "merchant_reference": "M-77"}


def assert_nothing_stored(refund) -> None:
    """No event, no queued task, and the refund exactly as it was."""
    assert stored_events() == []
    assert not OrmQ.objects.exists()
    before = (refund.status, refund.processed_at, refund.merchant_reference, refund.status_detail)
    refund.refresh_from_db()
    assert (refund.status, refund.processed_at, refund.merchant_reference, refund.status_detail) == before
    assert not AuditEvent.objects.filter(action__in=["webhook.processed", "refund.status_changed"]).exists()


def assert_refused(response, status: int, refund, error: str | None = None) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) == {"error"} and body["error"]
    if error is not None:
        assert body["error"] == error
    assert_nothing_stored(refund)


def padded(payload: dict, size: int) -> bytes:
    """`payload` plus a `padding` key, serialised to exactly `size` bytes."""
    empty = json.dumps({**payload, "padding": ""}, separators=(",", ":"))
    body = json.dumps({**payload, "padding": "x" * (size - len(empty))}, separators=(",", ":")).encode()
    assert len(body) == size
    return body


def sign_bytes(shop, body: bytes, *, webhook_id="msg_big") -> dict:
    now = datetime.datetime.now(datetime.UTC)
    return {
        "X-Merchant-Id": shop.code,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(shop.secret).sign(webhook_id, now, body.decode()),
    }


# --- accepted ----------------------------------------------------------------------------------


def test_a_signed_webhook_is_stored_and_answered_202(client, shop, refund):
    response = send(client, shop, APPROVE, webhook_id="msg_1")

    assert response.status_code == 202
    event = WebhookEvent.objects.get()
    assert response.json() == {
        "message": "Webhook received",
        "event_id": event.pk,
        "refund_id": "TXN-1",
        "status": "approved",
    }
    assert (event.merchant, event.webhook_id, event.refund_ref, event.requested_status) == (
        shop.merchant,
        "msg_1",
        "TXN-1",
        "approved",
    )
    assert event.payload == APPROVE
    assert (event.status, event.attempts, event.processed_at, event.refund) == ("RECEIVED", 0, None, None)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING  # processing is not part of the request


def test_processing_is_queued_only_after_the_event_is_committed(
    client, shop, refund, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = send(client, shop, APPROVE)

    assert response.status_code == 202
    assert len(callbacks) == 1
    assert not OrmQ.objects.exists()  # nothing queued before the event row is committed

    callbacks[0]()

    [queued] = OrmQ.objects.all()
    event = WebhookEvent.objects.get()
    assert queued.func() == PROCESS_TASK
    assert queued.args() == (event.pk,)
    assert queued.group() == "webhooks"


def test_once_the_task_runs_the_refund_takes_the_reported_status(deliver, shop, refund):
    response = deliver(shop, APPROVE)

    assert response.status_code == 202
    event = WebhookEvent.objects.get()
    assert (event.status, event.attempts, event.refund) == ("PROCESSED", 1, refund)
    assert event.detail == "Refund is now APPROVED"
    assert event.processed_at is not None
    refund.refresh_from_db()
    assert refund.status == Refund.Status.APPROVED
    assert refund.processed_at is not None
    assert refund.merchant_reference == "M-77"


def test_the_refund_can_be_named_by_its_uuid(deliver, shop, refund):
    response = deliver(shop, {"refund_id": str(refund.pk), "status": "rejected"})

    assert response.status_code == 202
    assert response.json()["refund_id"] == str(refund.pk)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.REJECTED


def test_neither_a_csrf_token_nor_a_login_is_needed(shop, refund):
    strict = Client(enforce_csrf_checks=True)

    response = send(strict, shop, APPROVE)

    assert response.status_code == 202
    assert WebhookEvent.objects.count() == 1


def test_a_valid_v1_signature_among_several_is_accepted(client, shop, refund):
    body, headers = sign(shop, APPROVE, webhook_id="msg_multi")
    now = int(headers["webhook-timestamp"])
    wrong = Webhook(merchant_with_secret("elsewhere").secret).sign(
        "msg_multi", datetime.datetime.fromtimestamp(now, datetime.UTC), body.decode()
    )
    good = headers["webhook-signature"]
    headers["webhook-signature"] = f"v2,{good.split(',')[1]} {wrong} {good}"

    response = post_raw(client, body, headers)

    assert response.status_code == 202
    assert stored_events() == [("shop", "msg_multi", "RECEIVED")]


def test_a_malformed_signature_entry_does_not_hide_a_valid_one(client, shop, refund):
    body, headers = sign(shop, APPROVE, webhook_id="msg_bad_first")
    headers["webhook-signature"] = f"v1,not*base64 garbage {headers['webhook-signature']}"

    response = post_raw(client, body, headers)

    assert response.status_code == 202


def test_only_the_contract_fields_of_the_payload_are_stored(client, shop, refund):
    payload = {**APPROVE, "card_number": "4111111111111111", "customer": {"phone": "+998901234567"}}

    response = send(client, shop, payload)

    assert response.status_code == 202
    event = WebhookEvent.objects.get()
    assert event.payload == {"refund_id": "TXN-1", "status": "approved", "merchant_reference": "M-77"}
    assert "4111111111111111" not in json.dumps(event.payload)


def test_merchant_reference_is_optional(client, shop, refund):
    response = send(client, shop, {"refund_id": "TXN-1", "status": "processing"})

    assert response.status_code == 202
    assert WebhookEvent.objects.get().payload == {
        "refund_id": "TXN-1",
        "status": "processing",
        "merchant_reference": "",
    }


def test_a_body_of_exactly_64_kib_is_accepted(client, shop, refund):
    body = padded(APPROVE, LIMIT)

    response = post_raw(client, body, sign_bytes(shop, body))

    assert response.status_code == 202
    assert WebhookEvent.objects.get().payload == APPROVE


# --- 401: not from the merchant it claims to be ---------------------------------------------------


def test_a_body_signed_with_another_secret_is_refused(client, shop, refund):
    response = send(client, shop, APPROVE, secret=merchant_with_secret("elsewhere").secret)

    assert_refused(response, 401, refund, "Invalid signature")


def test_a_body_changed_after_signing_is_refused(client, shop, refund):
    body, headers = sign(shop, APPROVE)
    tampered = body.replace(b"approved", b"rejected")
    assert tampered != body

    assert_refused(post_raw(client, tampered, headers), 401, refund, "Invalid signature")


def test_a_signature_replayed_under_another_webhook_id_is_refused(client, shop, refund):
    body, headers = sign(shop, APPROVE, webhook_id="msg_original")
    headers["webhook-id"] = "msg_replayed"

    assert_refused(post_raw(client, body, headers), 401, refund, "Invalid signature")


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_standard_webhooks_header_is_refused(client, shop, refund, header):
    body, headers = sign(shop, APPROVE)
    del headers[header]

    assert_refused(
        post_raw(client, body, headers),
        401,
        refund,
        "Missing webhook-id, webhook-timestamp or webhook-signature header",
    )


def test_a_missing_merchant_id_is_refused(client, shop, refund):
    body, headers = sign(shop, APPROVE)
    del headers["X-Merchant-Id"]

    assert_refused(post_raw(client, body, headers), 401, refund, "Missing X-Merchant-Id header")


def test_an_unknown_merchant_gets_the_same_answer_as_a_bad_signature(client, shop, refund):
    body, headers = sign(shop, APPROVE)
    headers["X-Merchant-Id"] = "no-such-shop"

    assert_refused(post_raw(client, body, headers), 401, refund, "Invalid signature")


@pytest.mark.parametrize("merchant_id", ["shop\x00", "é" * 5000])
def test_a_merchant_id_no_merchant_can_have_gets_the_same_answer(client, shop, refund, merchant_id):
    """A NUL in it answered 500 on PostgreSQL, which cannot even compare such a text."""
    body, headers = sign(shop, APPROVE)
    headers["X-Merchant-Id"] = merchant_id

    assert_refused(post_raw(client, body, headers), 401, refund, "Invalid signature")


def test_an_inactive_merchant_is_refused_even_with_its_own_secret(client, refund):
    closed = merchant_with_secret("closed-shop", is_active=False)

    assert_refused(send(client, closed, APPROVE), 401, refund, "Invalid signature")


def test_a_signature_by_one_merchant_does_not_pass_for_another(client, shop, other_shop, refund):
    body, headers = sign(shop, APPROVE)
    headers["X-Merchant-Id"] = other_shop.code

    assert_refused(post_raw(client, body, headers), 401, refund, "Invalid signature")


@pytest.mark.parametrize(
    "offset", [datetime.timedelta(minutes=-6), datetime.timedelta(minutes=6)], ids=["old", "future"]
)
def test_a_timestamp_more_than_five_minutes_off_is_refused(client, shop, refund, offset):
    when = datetime.datetime.now(datetime.UTC) + offset

    response = send(client, shop, APPROVE, timestamp=when)

    assert_refused(response, 401, refund, "Timestamp outside the 5 minute tolerance")


@pytest.mark.parametrize(
    "offset", [datetime.timedelta(minutes=-4), datetime.timedelta(minutes=4)], ids=["old", "ahead"]
)
def test_a_timestamp_within_five_minutes_is_accepted(client, shop, refund, offset):
    response = send(client, shop, APPROVE, timestamp=datetime.datetime.now(datetime.UTC) + offset)

    assert response.status_code == 202


@pytest.mark.parametrize(
    "signature",
    ["garbage", "v1,???", "v1,", "v1,a,b", "v2,AAAA", " ", "v1,bm90IGEgc2lnbmF0dXJl"],
)
def test_a_malformed_signature_header_is_refused(client, shop, refund, signature):
    body, headers = sign(shop, APPROVE)
    headers["webhook-signature"] = signature

    assert_refused(post_raw(client, body, headers), 401, refund)


@pytest.mark.parametrize("timestamp", ["yesterday", "", "1e20", "-1"])
def test_a_malformed_timestamp_is_refused(client, shop, refund, timestamp):
    body, headers = sign(shop, APPROVE)
    headers["webhook-timestamp"] = timestamp

    assert_refused(post_raw(client, body, headers), 401, refund)


def test_a_body_that_is_not_utf8_is_refused(client, shop, refund):
    body, headers = sign(shop, APPROVE)

    assert_refused(post_raw(client, body + b"\xff", headers), 401, refund)


# --- secret rotation ---------------------------------------------------------------------------


def test_after_a_rotation_both_secrets_work_during_the_grace(client, shop, refund):
    old_secret = shop.secret
    _, new_secret = rotate_secret(code=shop.code, actor=Actor.system("test"))

    assert send(client, shop, APPROVE, secret=old_secret).status_code == 202
    assert send(client, shop, APPROVE, secret=new_secret).status_code == 202
    assert WebhookEvent.objects.count() == 2


def test_the_old_secret_stops_working_when_its_grace_expires(client, shop, refund):
    old_secret = shop.secret
    merchant, new_secret = rotate_secret(code=shop.code, actor=Actor.system("test"))
    merchant.previous_secret_expires_at = timezone.now() - datetime.timedelta(seconds=1)
    merchant.save(update_fields=["previous_secret_expires_at"])

    assert_refused(send(client, shop, APPROVE, secret=old_secret), 401, refund, "Invalid signature")
    assert send(client, shop, APPROVE, secret=new_secret).status_code == 202


def test_a_rotation_without_grace_retires_the_old_secret_at_once(client, shop, refund):
    old_secret = shop.secret
    _, new_secret = rotate_secret(code=shop.code, actor=Actor.system("test"), grace=datetime.timedelta(0))

    assert_refused(send(client, shop, APPROVE, secret=old_secret), 401, refund)
    assert send(client, shop, APPROVE, secret=new_secret).status_code == 202


def test_two_rotations_retire_the_first_secret(client, shop, refund):
    first = shop.secret
    _, second = rotate_secret(code=shop.code, actor=Actor.system("test"))
    _, third = rotate_secret(code=shop.code, actor=Actor.system("test"))

    assert_refused(send(client, shop, APPROVE, secret=first), 401, refund)
    assert send(client, shop, APPROVE, secret=second).status_code == 202
    assert send(client, shop, APPROVE, secret=third).status_code == 202


# --- 400: signed, but not what the contract asks for ------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"status": "approved"},
        {"refund_id": "TXN-1"},
        {},
        {"refund_id": "", "status": "approved"},
        {"refund_id": "   ", "status": "approved"},
        {"refund_id": "TXN-1", "status": ""},
        {"refund_id": None, "status": "approved"},
        {"refund_id": "TXN-1", "status": None},
        {"refund_id": 42, "status": "approved"},
    ],
    ids=[
        "no-refund_id",
        "no-status",
        "empty",
        "blank-refund_id",
        "spaces-refund_id",
        "blank-status",
        "null-refund_id",
        "null-status",
        "number-refund_id",
    ],
)
def test_missing_fields_are_a_400_with_the_contract_message(client, shop, refund, payload):
    assert_refused(send(client, shop, payload), 400, refund, MISSING_FIELDS["error"])


@pytest.mark.parametrize(
    "status",
    ["done", "APPROVED", "Approved", "pending", "cancelled", 1, True],
)
def test_an_unknown_status_is_a_400_with_the_contract_message(client, shop, refund, status):
    assert_refused(send(client, shop, {"refund_id": "TXN-1", "status": status}), 400, refund, INVALID_STATUS["error"])


@pytest.mark.parametrize("status", [["approved"], {"approved": True}], ids=["list", "object"])
def test_a_status_that_is_not_a_string_is_a_400_not_a_500(client, shop, refund, status):
    response = send(client, shop, {"refund_id": "TXN-1", "status": status})

    assert_refused(response, 400, refund, INVALID_STATUS["error"])


@pytest.mark.parametrize(
    "payload",
    [
        {"refund_id": "T" * 65, "status": "approved"},
        {"refund_id": "TXN-1", "status": "approved", "merchant_reference": "R" * 129},
        {"refund_id": "TXN-1", "status": "approved", "merchant_reference": 7},
    ],
    ids=["long-refund_id", "long-reference", "number-reference"],
)
def test_oversized_or_mistyped_fields_are_a_400(client, shop, refund, payload):
    assert_refused(send(client, shop, payload), 400, refund)


def test_a_webhook_id_longer_than_128_characters_is_a_400(client, shop, refund):
    assert_refused(send(client, shop, APPROVE, webhook_id="m" * 129), 400, refund)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"not json at all", "Body must be valid JSON"),
        (b'{"refund_id": "TXN-1", ', "Body must be valid JSON"),
        (b"", "Body must be valid JSON"),
        (b'[{"refund_id": "TXN-1", "status": "approved"}]', "Body must be a JSON object"),
        (b'"approved"', "Body must be a JSON object"),
        (b"42", "Body must be a JSON object"),
        (b"null", "Body must be a JSON object"),
    ],
    ids=["text", "truncated", "empty", "array", "string", "number", "null"],
)
def test_a_signed_body_that_is_not_a_json_object_is_a_400(client, shop, refund, raw, error):
    assert_refused(post_raw(client, raw, sign_bytes(shop, raw)), 400, refund, error)


def test_a_deeply_nested_json_body_is_a_400_not_a_500(client, shop, refund):
    raw = b"[" * 30_000 + b"]" * 30_000  # under 64 KiB, but deeper than the JSON parser recurses

    assert_refused(post_raw(client, raw, sign_bytes(shop, raw)), 400, refund)


@pytest.mark.parametrize(
    "payload",
    [
        {"refund_id": "TXN\u00001", "status": "approved"},
        {"refund_id": "TXN-1", "status": "approved", "merchant_reference": "REF\u0000"},
    ],
    ids=["refund_id", "merchant_reference"],
)
def test_a_nul_character_in_a_field_is_a_400_not_a_500(client, shop, refund, payload):
    """PostgreSQL cannot store NUL in text or jsonb: such a body must be refused, never crash."""
    assert_refused(send(client, shop, payload), 400, refund)


# --- 413: too large ----------------------------------------------------------------------------


def test_a_body_over_64_kib_is_a_413(client, shop, refund):
    body = padded(APPROVE, LIMIT + 1)

    assert_refused(post_raw(client, body, sign_bytes(shop, body)), 413, refund, "Body larger than 64 KiB")


def test_a_large_declared_length_is_refused_before_the_signature_is_checked(client, refund):
    body = padded(APPROVE, 200 * 1024)

    response = post_raw(client, body, {"X-Merchant-Id": "anyone"})

    assert_refused(response, 413, refund)


def test_a_large_body_without_a_content_length_is_a_413(shop, refund):
    """ASGI servers pass a chunked body without CONTENT_LENGTH: the limit is enforced while reading."""
    body = padded(APPROVE, LIMIT + 1024)
    request = AsyncRequestFactory().post(
        WEBHOOK_URL, data=body, content_type="application/json", headers=sign_bytes(shop, body)
    )
    request.META.pop("CONTENT_LENGTH", None)
    assert "CONTENT_LENGTH" not in request.META

    response = endpoint.refund_status(request)

    assert_refused(response, 413, refund)


def test_an_understated_content_length_cannot_smuggle_a_body(client, shop, refund):
    body = padded(APPROVE, LIMIT + 1024)

    response = post_raw(client, body, sign_bytes(shop, body), CONTENT_LENGTH="100")

    assert_refused(response, 401, refund, "Invalid signature")  # only 100 bytes are read: they do not verify


# --- other methods -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_only_post_is_allowed(client, refund, method):
    response = getattr(client, method)(WEBHOOK_URL)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json() == {"error": "Method not allowed"}
    assert_nothing_stored(refund)


# --- duplicates --------------------------------------------------------------------------------


def test_the_same_webhook_id_again_is_a_duplicate_processed_once(deliver, shop, refund):
    first = deliver(shop, APPROVE, webhook_id="msg_dup")
    second = deliver(shop, APPROVE, webhook_id="msg_dup")

    assert first.status_code == 202
    assert second.status_code == 200
    event = WebhookEvent.objects.get()
    assert second.json() == {"message": "duplicate", "event_id": event.pk, "refund_id": "TXN-1", "status": "approved"}
    assert (event.status, event.attempts) == ("PROCESSED", 1)
    assert AuditEvent.objects.filter(action="webhook.processed").count() == 1
    assert AuditEvent.objects.filter(action="refund.status_changed").count() == 1


def test_a_replayed_webhook_id_with_another_body_keeps_the_first_body(deliver, shop, refund):
    deliver(shop, {"refund_id": "TXN-1", "status": "processing"}, webhook_id="msg_dup")

    again = deliver(shop, {"refund_id": "TXN-1", "status": "rejected"}, webhook_id="msg_dup")

    assert again.status_code == 200
    assert again.json()["message"] == "duplicate"
    assert again.json()["status"] == "processing"
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROCESSING
    assert WebhookEvent.objects.get().requested_status == "processing"


def test_a_duplicate_queues_nothing(client, shop, refund, django_capture_on_commit_callbacks):
    send(client, shop, APPROVE, webhook_id="msg_dup")

    with django_capture_on_commit_callbacks() as callbacks:
        response = send(client, shop, APPROVE, webhook_id="msg_dup")

    assert response.status_code == 200
    assert callbacks == []


def test_the_same_webhook_id_from_another_merchant_is_a_new_event(client, shop, other_shop, refund):
    first = send(client, shop, APPROVE, webhook_id="msg_shared")
    second = send(client, other_shop, APPROVE, webhook_id="msg_shared")

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["event_id"] != second.json()["event_id"]
    assert stored_events() == [("shop", "msg_shared", "RECEIVED"), ("other-shop", "msg_shared", "RECEIVED")]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_deliveries_of_one_webhook_store_and_queue_one_event():
    shop = merchant_with_secret("shop")
    RefundFactory(transaction_id="TXN-1", merchant=shop.merchant)
    body, headers = sign(shop, APPROVE, webhook_id="msg_race")
    barrier = threading.Barrier(8)

    def deliver_once(_):
        try:
            barrier.wait(timeout=10)
            return post_raw(Client(), body, headers).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(deliver_once, range(8)))

    assert sorted(codes) == [200] * 7 + [202]
    assert stored_events() == [("shop", "msg_race", "RECEIVED")]
    assert OrmQ.objects.count() == 1  # queued by the one request that stored it
