from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from bnpl_admin.staff.users import load_user, user_table_column


def token_owner(key: str):
    """The user holding the API token `key`, or None (one query, never remembered)."""
    qn = connection.ops.quote_name
    tokens = qn(Token._meta.db_table)
    owner = qn(Token._meta.get_field("user").column)
    return load_user(
        f"t.{qn(Token._meta.pk.column)} = %s",
        [key],
        join=f"JOIN {tokens} t ON t.{owner} = {user_table_column('pk')}",
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
        user = token_owner(key)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, Token(key=key, user=user)
