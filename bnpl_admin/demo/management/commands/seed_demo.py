import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from bnpl_admin.customers.models import Customer
from bnpl_admin.demo import seed as demo
from bnpl_admin.refunds.models import Refund
from bnpl_admin.webhooks.models import WebhookEvent


class Command(BaseCommand):
    help = "Load demo data: staff accounts, merchants, customers with plans (some overdue) and refunds."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=200, help="number of customers to add (default 200)")
        parser.add_argument("--seed", type=int, default=42, help="random seed, for repeatable data")
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when customers exist (without it, that is an error)"
        )
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="seed even with DEBUG=0 (demo accounts have known passwords)",
        )

    def handle(self, *args, customers, seed: int, if_empty: bool, allow_production: bool, **options):
        if customers < 0:
            raise CommandError("--customers must be zero or more")
        if settings.PRODUCTION and not allow_production:
            raise CommandError("Refusing to load demo accounts with known passwords in production (DEBUG=0).")
        if if_empty and Customer.objects.exists():
            self.stdout.write("Demo data already present; nothing to do.")
            self._print_logins()
            self._print_webhook_example()
            return
        try:
            with tqdm(total=customers, unit="customers", disable=customers < 5000, file=sys.stderr) as bar:
                result = demo.seed(customers=customers, seed=seed, progress=bar.update)
        except demo.DatabaseNotEmpty as e:
            raise CommandError(
                f"{e}: seed_demo fills an empty database only. Run it with --if-empty to skip seeding "
                "when data exists, or on an empty database."
            ) from e
        self.stdout.write(
            f"Seeded {result.customers} customers, {result.plans} plans, {result.installments} installments, "
            f"{result.refunds} refunds; {result.overdue_installments} installments overdue, "
            f"{result.debt_customers} customers in debt."
        )
        for code, secret in result.merchants:
            if secret:
                self.stdout.write(f"Merchant {code} webhook secret: {secret}")
        self._print_logins()
        self._print_webhook_example()

    def _print_logins(self):
        self.stdout.write("Demo logins (username / password):")
        for username, password, group in demo.DEMO_ACCOUNTS:
            self.stdout.write(f"  {username} / {password}  ({group or 'admin'})")

    def _print_webhook_example(self):
        """A ready command for the refund webhook: an open refund no merchant reported on yet, and
        its own merchant (another merchant's report would be UNMATCHED)."""
        refund = (
            Refund.objects.filter(status__in=[Refund.Status.PENDING, Refund.Status.PROCESSING], merchant__isnull=False)
            .exclude(transaction_id__in=WebhookEvent.objects.values("refund_ref"))
            .select_related("merchant")
            .order_by("created_at", "pk")
            .first()
        )
        if refund:
            self.stdout.write("Try the merchant webhook on an open refund:")
            command = f"send_test_webhook {refund.merchant.code} {refund.transaction_id} approved"
            self.stdout.write(f"  .venv/bin/python manage.py {command}")
