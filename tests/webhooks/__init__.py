"""Helpers for the merchant webhook tests: merchants whose secret the test knows, signed posts."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from bnpl_admin.customers import encryption
from bnpl_admin.webhooks.models import Merchant, WebhookEvent
from bnpl_admin.webhooks.services import new_webhook_secret
from bnpl_admin.webhooks.signing import signed_request
from tests.factories import MerchantFactory

WEBHOOK_URL = "/webhook/refund-status/"
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


@dataclass(frozen=True)
class SignedMerchant:
    """A merchant row and the plain `whsec_…` secret it signs with."""

    merchant: Merchant
    secret: str

    @property
    def code(self) -> str:
        return self.merchant.code


def merchant_with_secret(code: str, *, is_active: bool = True, **fields) -> SignedMerchant:
    secret = new_webhook_secret()
    merchant = MerchantFactory(
        code=code, webhook_secret_encrypted=encryption.encrypt(secret), is_active=is_active, **fields
    )
    return SignedMerchant(merchant=merchant, secret=secret)


def sign(
    shop: SignedMerchant,
    payload: dict,
    *,
    secret: str | None = None,
    webhook_id: str | None = None,
    timestamp: datetime.datetime | None = None,
) -> tuple[bytes, dict]:
    """The body and headers a merchant would send (`secret` overrides the merchant's own)."""
    return signed_request(
        secret=secret or shop.secret,
        merchant_code=shop.code,
        payload=payload,
        webhook_id=webhook_id,
        timestamp=timestamp,
    )


def post_raw(client, body: bytes, headers: dict, **extra):
    """POST exactly these bytes and headers to the endpoint."""
    headers = {name: value for name, value in headers.items() if name.lower() != "content-type"}
    return client.post(WEBHOOK_URL, data=body, content_type="application/json", headers=headers, **extra)


def send(client, shop: SignedMerchant, payload: dict, **signing):
    """Sign `payload` as `shop` and POST it."""
    body, headers = sign(shop, payload, **signing)
    return post_raw(client, body, headers)


def stored_events() -> list[tuple[str, str, str]]:
    return list(WebhookEvent.objects.order_by("id").values_list("merchant__code", "webhook_id", "status"))
