"""Sign-in is Django's: database sessions, ModelBackend behind django-axes. Two guards are added
for input PostgreSQL refuses (a NUL in a text made it raise, and the page answer 500), and a
signed-in user's permissions are read in the same query as the user."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.contrib.sessions.backends import db
from django.db.models import OuterRef, StringAgg, Subquery, Value
from django.db.models.functions import Concat

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


def _permission_names(permissions):
    """A scalar subquery: the "app_label.codename" of `permissions`, comma-separated (or NULL)."""
    name = Concat("content_type__app_label", Value("."), "codename")
    # Grouped by a constant: all the rows aggregate into one.
    return Subquery(
        permissions.order_by()
        .annotate(group_key=Value(1))
        .values("group_key")
        .annotate(names=StringAgg(name, Value(",")))
        .values("names")
    )


def users_with_permissions():
    """Users, each read with their own and their groups' permission names in the same query."""
    return get_user_model().objects.annotate(
        own_permissions=_permission_names(Permission.objects.filter(user=OuterRef("pk"))),
        group_permissions=_permission_names(Permission.objects.filter(group__user=OuterRef("pk"))),
    )


def _names(joined: str | None) -> set[str]:
    return set(joined.split(",")) if joined else set()


class StaffBackend(ModelBackend):
    """Django's ModelBackend, where the signed-in user of a request (`get_user`) is read with
    their permissions in one query instead of two (the user, then the permissions). They are read on every
    request and kept on that user instance as `staff_permissions`, as ModelBackend keeps its own:
    a role taken away is refused on the next request."""

    def get_user(self, user_id):
        user = users_with_permissions().filter(pk=user_id).first()
        if user is None or not self.user_can_authenticate(user):
            return None
        remember_permissions(user)
        return user

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


def remember_permissions(user) -> None:
    """Keep the permission names a user of `users_with_permissions()` was read with as the set
    StaffBackend answers from (a superuser has every permission: read by the backend instead)."""
    if not user.is_superuser:
        user.staff_permissions = _names(user.own_permissions) | _names(user.group_permissions)
