import functools

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


@functools.cache
def _owner_query() -> tuple[str, list]:
    """The token owner's columns by the token's key, and each column's converters from database
    values. Written once per process: building this query through the ORM (or a RawQuerySet) on
    every API call cost more than running it (measured: a fifth of a users-list call)."""
    User = get_user_model()
    qn = connection.ops.quote_name
    fields = User._meta.concrete_fields
    columns = ", ".join(f"u.{qn(field.column)}" for field in fields)
    owner_column = qn(Token._meta.get_field("user").column)
    sql = (
        f"SELECT {columns} FROM {qn(User._meta.db_table)} u "
        f"JOIN {qn(Token._meta.db_table)} t ON t.{owner_column} = u.{qn(User._meta.pk.column)} "
        f"WHERE t.{qn(Token._meta.pk.column)} = %s"
    )
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(User._meta.db_table)
        functions = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if functions:
            converters.append((index, column, functions))
    return sql, converters


def token_owner(key: str):
    """The user holding the API token `key`, or None."""
    sql, converters = _owner_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, column, functions in converters:
        for convert in functions:
            values[index] = convert(values[index], column, connection)
    User = get_user_model()
    return User.from_db(connection.alias, [field.attname for field in User._meta.concrete_fields], values)


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
