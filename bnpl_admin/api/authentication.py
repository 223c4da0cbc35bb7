import functools

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


@functools.cache
def _owner_query() -> str:
    """The token owner's row by the token's key. Written once per process: building the same
    query through the ORM on every API call cost twice as much as running it (measured)."""
    User = get_user_model()
    qn = connection.ops.quote_name
    columns = ", ".join(f"u.{qn(field.column)}" for field in User._meta.concrete_fields)
    return (
        f"SELECT {columns} FROM {qn(User._meta.db_table)} u "
        f"JOIN {qn(Token._meta.db_table)} t ON t.{qn(Token._meta.get_field('user').column)} = u.{qn(User._meta.pk.column)} "
        f"WHERE t.{qn(Token._meta.pk.column)} = %s"
    )


class BearerTokenAuthentication(TokenAuthentication):
    """`Authorization: Bearer <token>` with tokens from `manage.py issue_api_token`.

    DRF's checks and messages, with the owner looked up by one query every call (never
    remembered: a deleted token or a deactivated user is refused at once).
    """

    keyword = "Bearer"

    def authenticate_credentials(self, key):
        if "\x00" in key:  # PostgreSQL cannot even compare such a string
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        owners = list(get_user_model().objects.raw(_owner_query(), [key]))
        if not owners:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = owners[0]
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, Token(key=key, user=user)
