from django.core.management.base import BaseCommand

from bnpl_admin.customers.services import rotate_encryption


class Command(BaseCommand):
    help = (
        "Re-encrypt every customer's personal data under the first key of FIELD_ENCRYPTION_KEYS. "
        "Run after putting a new key first; then the old keys can be removed."
    )

    def handle(self, *args, **options):
        count = rotate_encryption()
        self.stdout.write(f"Re-encrypted personal data of {count} customers under the newest key.")
