"""Sign-in is Django's: database sessions, ModelBackend behind django-axes. Two guards are added
for input PostgreSQL refuses (a NUL in a text made it raise, and the page answer 500), and the
permissions are read in one query instead of two."""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.contrib.sessions.backends import db

from bnpl_admin.text import storable


class SessionStore(db.SessionStore):
    """Django's database sessions (SESSION_ENGINE), where a session cookie with a NUL or another
    text the database cannot compare is no session, as a too short one is."""

    def __init__(self, session_key=None):
        super().__init__(session_key if session_key and storable(session_key) else None)


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


class StaffBackend(ModelBackend):
    """Django's ModelBackend, with a user's own and their groups' permissions read in one query (a
    UNION) rather than two. Read once per request and kept on the user instance as
    `staff_permissions`, as ModelBackend keeps its own: a role taken away is refused on the next
    request."""

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "staff_permissions"):
            fields = ("content_type__app_label", "codename")
            if user_obj.is_superuser:
                permissions = Permission.objects.values_list(*fields).order_by()
            else:
                own = Permission.objects.filter(user=user_obj).values_list(*fields).order_by()
                of_groups = Permission.objects.filter(group__user=user_obj).values_list(*fields).order_by()
                permissions = own.union(of_groups).order_by()
            user_obj.staff_permissions = {f"{app_label}.{codename}" for app_label, codename in permissions}
        return user_obj.staff_permissions
