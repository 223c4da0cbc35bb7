from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from bnpl_admin.api.services import issue_api_token


class Command(BaseCommand):
    help = "Issue (or re-issue) the API token of a staff user and print it as the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        User = get_user_model()
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}") from None
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive")
        token = issue_api_token(user=user)
        self.stdout.write(f"API token for {username} (use as 'Authorization: Bearer <token>'):")
        self.stdout.write(token)
