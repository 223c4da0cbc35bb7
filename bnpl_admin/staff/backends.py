"""Django's ModelBackend, taking the signed-in user read with its session (`staff.sessions`).

Permissions are ModelBackend's own, read on every request: a role taken away is refused at once.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from bnpl_admin.prepared import NUMBER, PreparedQuery, every_column
from bnpl_admin.staff.sessions import user_pk, user_read_with_session

# The signed-in user, on every page request.
_USER = PreparedQuery(
    lambda pk: get_user_model().objects.filter(pk=pk).values_list(*every_column(get_user_model())),
    placeholders=(NUMBER,),
)


class RememberedPermissionsBackend(ModelBackend):  # the name signed-in sessions hold
    def get_user(self, user_id):
        """ModelBackend's, with the signed-in user taken from its session's row when it was read
        with it (`staff.sessions`), else read by a prepared query (every page request)."""
        pk = user_pk(user_id)
        if pk is None:
            return None
        user = user_read_with_session(pk) or _USER.one(pk)
        return user if user is not None and self.user_can_authenticate(user) else None


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
