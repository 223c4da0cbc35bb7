from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    """`Authorization: Bearer <token>` with tokens from `manage.py issue_api_token`."""

    keyword = "Bearer"
