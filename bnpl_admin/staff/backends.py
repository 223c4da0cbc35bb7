"""Django's ModelBackend, with each user's permission set remembered by each process for a while.

Every page and API call checks permissions, and ModelBackend reads them with two queries (the
user's own, the groups') on every request. Here they are remembered per process for
PERMISSION_CACHE_SECONDS (30 s): a role granted or taken away reaches every page and API call
within that time. Signing out, deactivating a user (`is_active` is read with the user on every
request) and deleting an API token take effect at once.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import caches

from bnpl_admin.prepared import NUMBER, PreparedQuery, every_column
from bnpl_admin.staff.sessions import user_pk, user_read_with_session

# The signed-in user, on every page request.
_USER = PreparedQuery(
    lambda pk: get_user_model().objects.filter(pk=pk).values_list(*every_column(get_user_model())),
    placeholders=(NUMBER,),
)


def remembered(user, what: str, compute):
    """`compute()` for this user, remembered by this process for PERMISSION_CACHE_SECONDS."""
    # date_joined with the pk: a row id reused after a rollback (tests) is another user.
    key = f"user:{user.pk}:{user.date_joined.timestamp()}:{what}"
    cache = caches["process"]
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, settings.PERMISSION_CACHE_SECONDS)
    return value


class RememberedPermissionsBackend(ModelBackend):
    def get_user(self, user_id):
        """ModelBackend's, with the signed-in user taken from its session's row when it was read
        with it (`staff.sessions`), else read by a prepared query (every page request)."""
        pk = user_pk(user_id)
        if pk is None:
            return None
        user = user_read_with_session(pk) or _USER.one(pk)
        return user if user is not None and self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):  # ModelBackend's own per-request memo
            user_obj._perm_cache = remembered(user_obj, "permissions", lambda: self._read_permissions(user_obj))
        return user_obj._perm_cache

    def _read_permissions(self, user_obj) -> frozenset[str]:
        return frozenset(super().get_all_permissions(user_obj))


def axes_username(request, credentials=None):
    """The username django-axes records a failed sign-in under (AXES_USERNAME_CALLABLE): the one
    it would read itself (the credentials tried, else the POSTed form), cut to the length of its
    column. A longer one, which the sign-in forms pass on to the backends unchecked, made
    PostgreSQL refuse the row and the sign-in page answer 500."""
    from axes.models import AccessAttempt  # an app's models: not importable while settings load

    field = settings.AXES_USERNAME_FORM_FIELD
    username = credentials.get(field) if credentials else getattr(request, "data", request.POST).get(field)
    if isinstance(username, str):
        return username[: AccessAttempt._meta.get_field("username").max_length]
    return username
