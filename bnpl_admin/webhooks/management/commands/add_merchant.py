from django.core.management.base import BaseCommand, CommandError

from bnpl_admin.audit.services import Actor
from bnpl_admin.webhooks.services import InvalidMerchant, MerchantExists, add_merchant


class Command(BaseCommand):
    help = "Create a merchant and print its webhook secret (the last line of output; shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("code", help="unique slug, sent by the merchant as X-Merchant-Id")
        parser.add_argument("--name", required=True)

    def handle(self, *args, code, name, **options):
        try:
            merchant, secret = add_merchant(code=code, name=name, actor=Actor.system("add_merchant command"))
        except (InvalidMerchant, MerchantExists) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Merchant {merchant.code} ({merchant.name}) created. Webhook secret (store it now):")
        self.stdout.write(secret)
