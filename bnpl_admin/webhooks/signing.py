"""Signing a webhook as a merchant would (Standard Webhooks): for `send_test_webhook` and tests."""

import datetime
import json
import uuid

from standardwebhooks.webhooks import Webhook


def signed_request(
    *,
    secret: str,
    merchant_code: str,
    payload: dict,
    webhook_id: str | None = None,
    timestamp: datetime.datetime | None = None,
) -> tuple[bytes, dict]:
    """The body and headers of a refund-status webhook signed with `secret`."""
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    timestamp = timestamp or datetime.datetime.now(datetime.UTC)
    body = json.dumps(payload, separators=(",", ":"))
    headers = {
        "Content-Type": "application/json",
        "X-Merchant-Id": merchant_code,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, timestamp, body),
    }
    return body.encode(), headers
