"""Merchants and webhook events: secrets, signature checks, durable receipt, processing.

The endpoint stores an event durably and answers 202; processing runs in a django-q2 task after
commit and is safe to run any number of times for the same event (the event row is locked and
only a RECEIVED event is processed). A sweeper re-queues events left RECEIVED too long, so an
event whose task was lost (a killed worker, a failed enqueue) is still processed.
"""

from __future__ import annotations

import base64
import datetime
import logging
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bnpl_admin.audit import services as audit
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers import encryption
from bnpl_admin.refunds.errors import RefundNotFound
from bnpl_admin.refunds.services import MERCHANT_STATUSES, apply_merchant_status
from bnpl_admin.text import storable
from bnpl_admin.webhooks.models import Merchant, WebhookEvent

logger = logging.getLogger(__name__)

PROCESS_TASK = "tasks.webhooks.process_webhook_event"
MISSING_FIELDS = "Missing required fields: refund_id and status"
INVALID_STATUS = "Invalid status. Must be one of: approved, rejected, processing, failed"
ROTATION_GRACE = datetime.timedelta(hours=24)
BUSY_BROKER = 20  # queued tasks beyond which the sweeper waits for the backlog to drain
_SIGNATURE = re.compile(r"^v1,[A-Za-z0-9+/]+={0,2}$")


class MerchantExists(Exception):
    pass


class InvalidMerchant(Exception):
    """A merchant code or name that cannot be stored as given."""


class InvalidSignature(Exception):
    """The request is not from the merchant it claims to be (401)."""


class InvalidPayload(Exception):
    """A signed request whose body breaks the contract (400)."""


class NotReprocessable(Exception):
    pass


# Merchants and their secrets


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def merchant_secret(merchant: Merchant) -> str:
    return encryption.decrypt(merchant.webhook_secret_encrypted)


def valid_secrets(merchant: Merchant, *, now: datetime.datetime | None = None) -> list[str]:
    """The current secret and, during its grace period after a rotation, the previous one."""
    now = now or timezone.now()
    found = [merchant_secret(merchant)]
    if (
        merchant.previous_secret_encrypted
        and merchant.previous_secret_expires_at
        and now < merchant.previous_secret_expires_at
    ):
        found.append(encryption.decrypt(merchant.previous_secret_encrypted))
    return found


def add_merchant(*, code: str, name: str, actor: Actor) -> tuple[Merchant, str]:
    """Create a merchant with a fresh webhook secret; returns the merchant and the secret (shown once)."""
    code_length, name_length = (Merchant._meta.get_field(field).max_length for field in ("code", "name"))
    if not code or slugify(code) != code or len(code) > code_length:
        raise InvalidMerchant(
            f"Merchant code must be a slug (lowercase letters, digits, hyphens) of at most {code_length} "
            f"characters: {code!r}"
        )
    name = name.strip()
    if not name or len(name) > name_length or not storable(name):
        raise InvalidMerchant(f"Merchant name must be 1 to {name_length} characters")
    secret = new_webhook_secret()
    try:
        with transaction.atomic():
            merchant = Merchant.objects.create(
                code=code, name=name, webhook_secret_encrypted=encryption.encrypt(secret)
            )
            audit.record(
                actor=actor, action="merchant.created", target_type="merchant", target_id=code, data={"name": name}
            )
    except IntegrityError:
        raise MerchantExists(f"Merchant {code} already exists") from None
    return merchant, secret


@transaction.atomic
def rotate_secret(*, code: str, actor: Actor, grace: datetime.timedelta = ROTATION_GRACE) -> tuple[Merchant, str]:
    """A new secret for the merchant; the old one keeps working for `grace`, then stops."""
    merchant = Merchant.objects.select_for_update().get(code=code)
    secret = new_webhook_secret()
    merchant.previous_secret_encrypted = merchant.webhook_secret_encrypted
    merchant.previous_secret_expires_at = timezone.now() + grace
    merchant.webhook_secret_encrypted = encryption.encrypt(secret)
    merchant.save(update_fields=["webhook_secret_encrypted", "previous_secret_encrypted", "previous_secret_expires_at"])
    audit.record(
        actor=actor,
        action="merchant.secret_rotated",
        target_type="merchant",
        target_id=code,
        data={"previous_valid_until": merchant.previous_secret_expires_at.isoformat()},
    )
    return merchant, secret


@transaction.atomic
def reencrypt_merchant_secrets() -> int:
    """Re-encrypt merchants' webhook secrets under the newest field-encryption key."""
    merchants = list(Merchant.objects.select_for_update().all())
    for merchant in merchants:
        merchant.webhook_secret_encrypted = encryption.rotate(merchant.webhook_secret_encrypted)
        merchant.previous_secret_encrypted = encryption.rotate(merchant.previous_secret_encrypted)
    Merchant.objects.bulk_update(merchants, ["webhook_secret_encrypted", "previous_secret_encrypted"])
    return len(merchants)


# Receiving


def authenticate(*, merchant_code: str, body: bytes, headers: dict) -> Merchant:
    """The active merchant whose secret signed `body` (Standard Webhooks), or InvalidSignature.

    Several `v1,` signatures may be sent (the merchant rotating); the timestamp must be within
    5 minutes; signatures are compared in constant time by the standardwebhooks library.
    """
    if not merchant_code:
        raise InvalidSignature("Missing X-Merchant-Id header")
    if not (headers.get("webhook-id") and headers.get("webhook-timestamp") and headers.get("webhook-signature")):
        raise InvalidSignature("Missing webhook-id, webhook-timestamp or webhook-signature header")
    merchant = Merchant.objects.filter(code=merchant_code, is_active=True).first() if storable(merchant_code) else None
    if merchant is None:
        raise InvalidSignature("Invalid signature")  # never say whether the merchant exists
    # Keep only well-formed "v1,<base64>" entries: one malformed entry must not hide a valid one.
    signatures = [sig for sig in headers["webhook-signature"].split(" ") if _SIGNATURE.match(sig)]
    if not signatures:
        raise InvalidSignature("Invalid signature")
    headers = {**headers, "webhook-signature": " ".join(signatures)}
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise InvalidSignature("Invalid signature") from None
    for secret in valid_secrets(merchant):
        try:
            Webhook(secret).verify(text, headers, json_parse=False)
        except WebhookVerificationError as exc:
            if "timestamp" in str(exc).lower():
                raise InvalidSignature("Timestamp outside the 5 minute tolerance") from None
        except ValueError:  # a malformed signature header
            raise InvalidSignature("Invalid signature") from None
        else:
            return merchant
    raise InvalidSignature("Invalid signature")


def validate_payload(payload) -> dict:
    """The contract's fields, or InvalidPayload. Only known fields are kept: no stray PII is stored."""
    if not isinstance(payload, dict):
        raise InvalidPayload("Body must be a JSON object")
    refund_id, status = payload.get("refund_id"), payload.get("status")
    if not isinstance(refund_id, str) or not refund_id.strip() or status in (None, ""):
        raise InvalidPayload(MISSING_FIELDS)
    if not storable(refund_id):
        raise InvalidPayload("refund_id contains characters that cannot be stored")
    if not isinstance(status, str) or status not in MERCHANT_STATUSES:
        raise InvalidPayload(INVALID_STATUS)
    if len(refund_id) > 64:
        raise InvalidPayload("refund_id must be at most 64 characters")
    reference = payload.get("merchant_reference", "")
    if reference is None:
        reference = ""
    if not isinstance(reference, str) or len(reference) > 128 or not storable(reference):
        raise InvalidPayload("merchant_reference must be a string of at most 128 characters, without NUL")
    return {"refund_id": refund_id.strip(), "status": status, "merchant_reference": reference}


@dataclass(frozen=True)
class Receipt:
    event: WebhookEvent
    duplicate: bool


def receive_event(*, merchant: Merchant, webhook_id: str, payload: dict) -> Receipt:
    """Store the event durably (before any answer) and queue its processing after commit.

    The same webhook-id from the same merchant is a duplicate: the stored event is returned and
    nothing is queued again.
    """
    if len(webhook_id) > 128 or not storable(webhook_id):
        raise InvalidPayload("webhook-id must be at most 128 storable characters")
    fields = validate_payload(payload)
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                merchant=merchant,
                webhook_id=webhook_id,
                payload=fields,
                refund_ref=fields["refund_id"],
                requested_status=fields["status"],
            )
            transaction.on_commit(lambda: enqueue_processing(event.pk))
    except IntegrityError:
        event = WebhookEvent.objects.filter(merchant=merchant, webhook_id=webhook_id).first()
        if event is None:
            raise
        return Receipt(event=event, duplicate=True)
    return Receipt(event=event, duplicate=False)


def enqueue_processing(event_id: int) -> None:
    """Queue the processing task; if that fails, the sweeper will find the event RECEIVED.

    A successful run leaves no django-q2 result row (`save=False`): the event itself records the
    outcome, its attempts and when, and the audit trail says what it did. A failed run is still
    kept (the health page counts failures). Saving each success would also make the cluster prune
    its stored results on every task, which slowed the drain of a backlog.
    """
    from django_q.tasks import async_task

    try:
        async_task(PROCESS_TASK, event_id, task_name=f"webhook-event-{event_id}", group="webhooks", save=False)
    except Exception:
        logger.exception("Could not queue webhook event %s; the sweeper will re-queue it", event_id)


# Processing


@transaction.atomic
def process_event(*, event_id: int) -> WebhookEvent | None:
    """Apply a RECEIVED event to its refund, exactly once; any other event is left as it is.

    Outcomes: PROCESSED (the refund moved), IGNORED (a late, duplicate or out-of-order status: the
    reason is kept), UNMATCHED (no such refund for this merchant), FAILED (an unexpected error,
    kept with its message; re-processing is possible from the events page).
    """
    event = WebhookEvent.objects.select_for_update(of=("self",)).select_related("merchant").filter(pk=event_id).first()
    if event is None or event.status != WebhookEvent.Status.RECEIVED:
        return event
    merchant = event.merchant
    event.attempts += 1
    customer_ref = ""
    try:
        with transaction.atomic():
            update = apply_merchant_status(
                refund_ref=event.refund_ref,
                status=event.requested_status,
                merchant=merchant,
                merchant_reference=event.payload.get("merchant_reference", ""),
                actor=Actor.merchant(merchant),
            )
    except RefundNotFound:
        event.status, event.detail = WebhookEvent.Status.UNMATCHED, f"No refund {event.refund_ref} for this merchant"
    except Exception as exc:  # kept on the event, durably: the refund change above was rolled back
        logger.exception("Webhook event %s failed", event.pk)
        event.status, event.detail = WebhookEvent.Status.FAILED, f"{type(exc).__name__}: {exc}"[:500]
    else:
        event.refund = update.refund
        customer_ref = update.refund.customer.customer_id
        if update.applied:
            event.status, event.detail = WebhookEvent.Status.PROCESSED, f"Refund is now {update.refund.status}"
        else:
            event.status, event.detail = WebhookEvent.Status.IGNORED, update.reason
    event.processed_at = timezone.now()
    event.save(update_fields=["status", "detail", "attempts", "processed_at", "refund"])
    audit.record(
        actor=Actor.merchant(merchant),
        action="webhook.processed",
        target_type="webhook_event",
        target_id=event.pk,
        customer_ref=customer_ref,
        data={"status": event.status, "detail": event.detail, "requested": event.requested_status},
    )
    return event


@transaction.atomic
def reprocess_event(*, event_id: int, actor: Actor) -> WebhookEvent:
    """Put a FAILED or UNMATCHED event back to RECEIVED and queue it again (audited)."""
    event = WebhookEvent.objects.select_for_update().get(pk=event_id)
    if event.status not in (WebhookEvent.Status.FAILED, WebhookEvent.Status.UNMATCHED):
        raise NotReprocessable(f"Only FAILED or UNMATCHED events can be re-processed (this one is {event.status})")
    before = event.status
    event.status, event.detail = WebhookEvent.Status.RECEIVED, f"Re-queued by {actor.label} (was {before})"
    event.save(update_fields=["status", "detail"])
    audit.record(
        actor=actor,
        action="webhook.reprocess_requested",
        target_type="webhook_event",
        target_id=event.pk,
        data={"was": before},
    )
    transaction.on_commit(lambda: enqueue_processing(event.pk))
    return event


def requeue_stale_events(*, older_than: datetime.timedelta | None = None, limit: int = 500) -> int:
    """Queue again the events still RECEIVED after `older_than` whose task was lost (the broker
    holds no task at all); `older_than=0` forces it."""
    from django_q.models import OrmQ

    if older_than is None:
        older_than = datetime.timedelta(seconds=settings.WEBHOOK_STALE_AFTER_SECONDS)
    if OrmQ.objects.count() > BUSY_BROKER and older_than.total_seconds() > 0:
        # Many tasks are still waiting in the broker (a backlog, or ones a killed worker left, which
        # the broker delivers again after Q_RETRY): queueing the same events again would only pile
        # up. A few rows are normal: this sweeper's own task and other schedules sit there too.
        return 0
    cutoff = timezone.now() - older_than
    stale = list(
        WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    for event_id in stale:
        enqueue_processing(event_id)
    if stale:
        logger.warning("Re-queued %d webhook events left RECEIVED since before %s", len(stale), cutoff.isoformat())
    return len(stale)
