import datetime

from django.core.management.base import BaseCommand, CommandError

from bnpl_admin.audit.services import Actor
from bnpl_admin.collection import portfolio
from bnpl_admin.plans.services import check_overdue


class Command(BaseCommand):
    help = "Mark installments due before the as-of date OVERDUE and their customers DEBT_USER (rule 2)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="YYYY-MM-DD (default: today in TIME_ZONE)")

    def handle(self, *args, as_of=None, **options):
        as_of_date = None
        if as_of:
            try:
                as_of_date = datetime.date.fromisoformat(as_of)
            except ValueError:
                raise CommandError(f"--as-of must be a date as YYYY-MM-DD, not {as_of!r}") from None
        result = check_overdue(as_of=as_of_date, actor=Actor.system("check_overdue command"))
        snapshot = portfolio.refresh(result.as_of)
        self.stdout.write(f"As of {result.as_of.isoformat()}:")
        self.stdout.write(f"  installments marked OVERDUE: {result.installments_marked_overdue}")
        self.stdout.write(f"  customers marked DEBT_USER:  {result.customers_marked_debt}")
        self.stdout.write(f"  collection cases opened:     {result.cases_opened}")
        self.stdout.write(f"  promises kept / broken:      {result.promises_kept} / {result.promises_broken}")
        self.stdout.write(f"  PAR30 / PAR60 / PAR90:       {snapshot.par30} / {snapshot.par60} / {snapshot.par90}")
