"""Writes to merchants and webhook events."""

from __future__ import annotations

import base64
import secrets

from django.db import IntegrityError, transaction

from bnpl_admin.audit import services as audit
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers import encryption
from bnpl_admin.webhooks.models import Merchant


class MerchantExists(Exception):
    pass


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def merchant_secret(merchant: Merchant) -> str:
    return encryption.decrypt(merchant.webhook_secret_encrypted)


def add_merchant(*, code: str, name: str, actor: Actor) -> tuple[Merchant, str]:
    """Create a merchant with a fresh webhook secret; returns the merchant and the secret (shown once)."""
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
def reencrypt_merchant_secrets() -> int:
    """Re-encrypt merchants' webhook secrets under the newest field-encryption key."""
    merchants = list(Merchant.objects.select_for_update().all())
    for merchant in merchants:
        merchant.webhook_secret_encrypted = encryption.rotate(merchant.webhook_secret_encrypted)
        merchant.previous_secret_encrypted = encryption.rotate(merchant.previous_secret_encrypted)
    Merchant.objects.bulk_update(merchants, ["webhook_secret_encrypted", "previous_secret_encrypted"])
    return len(merchants)
