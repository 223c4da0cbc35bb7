from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from bnpl_admin.audit.services import Actor
from bnpl_admin.webhooks.services import MerchantExists, add_merchant


class Command(BaseCommand):
    help = "Create a merchant and print its webhook secret (the last line of output; shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("code", help="unique slug, sent by the merchant as X-Merchant-Id")
        parser.add_argument("--name", required=True)

    def handle(self, *args, code, name, **options):
        if slugify(code) != code:
            raise CommandError(f"Merchant code must be a slug (lowercase letters, digits, hyphens): {code!r}")
        if not name.strip():
            raise CommandError("--name must not be empty")
        try:
            merchant, secret = add_merchant(code=code, name=name.strip(), actor=Actor.system("add_merchant command"))
        except MerchantExists as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Merchant {merchant.code} ({merchant.name}) created. Webhook secret (store it now):")
        self.stdout.write(secret)
