from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from bnpl_admin.audit.services import Actor
from bnpl_admin.webhooks.models import Merchant
from bnpl_admin.webhooks.services import rotate_secret


class Command(BaseCommand):
    help = "Give a merchant a new webhook secret (printed last); the old one stays valid for a grace period."

    def add_arguments(self, parser):
        parser.add_argument("code")
        parser.add_argument("--grace-hours", type=float, default=24.0, help="how long the old secret still works")

    def handle(self, *args, code, grace_hours, **options):
        grace = _grace(grace_hours)
        try:
            merchant, secret = rotate_secret(
                code=code, grace=grace, actor=Actor.system("rotate_merchant_secret command")
            )
        except Merchant.DoesNotExist:
            raise CommandError(f"No merchant {code!r}") from None
        until = merchant.previous_secret_expires_at
        self.stdout.write(f"New secret for {code}; the previous one works until {until:%Y-%m-%d %H:%M %Z}:")
        self.stdout.write(secret)


def _grace(hours: float) -> timedelta:
    """The grace period asked for; CommandError unless it is zero or more and ends on a date (NaN was
    taken as a grace, and inf or 1e308 hours ended in a traceback)."""
    try:
        grace = timedelta(hours=hours)
        timezone.now() + grace  # past the year 9999: OverflowError
    except (ValueError, OverflowError):  # NaN; inf, 1e308 or a date past 9999
        grace = None
    if grace is None or grace < timedelta(0):
        raise CommandError("--grace-hours must be zero or more, and a number of hours a date can be")
    return grace
