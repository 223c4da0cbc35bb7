from django.core.management.base import BaseCommand

from bnpl_admin.customers.services import rotate_encryption
from bnpl_admin.webhooks.services import reencrypt_merchant_secrets


class Command(BaseCommand):
    help = (
        "Re-encrypt every customer's personal data and merchant webhook secret under the first key of "
        "FIELD_ENCRYPTION_KEYS. "
        "Run after putting a new key first; then the old keys can be removed."
    )

    def handle(self, *args, **options):
        count = rotate_encryption()
        merchants = reencrypt_merchant_secrets()
        self.stdout.write(f"Re-encrypted personal data of {count} customers under the newest key.")
        self.stdout.write(f"Re-encrypted webhook secrets of {merchants} merchants under the newest key.")
