from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


def token_owner(key: str):
    """The user holding the API token `key`, or None: one query on every call, never remembered."""
    return get_user_model().objects.filter(auth_token__key=key).first()


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
