"""API tokens (DRF's authtoken model)."""

from django.db import transaction
from rest_framework.authtoken.models import Token

from bnpl_admin.audit import services as audit
from bnpl_admin.audit.services import Actor


@transaction.atomic
def issue_api_token(*, user, actor: Actor | None = None) -> str:
    """A new token for the user; any previous token stops working."""
    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    audit.record(
        actor=actor or Actor.system("issue_api_token command"),
        action="api_token.issued",
        target_type="user",
        target_id=user.get_username(),
        data={},
    )
    return token.key
