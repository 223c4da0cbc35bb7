"""Sign-in is Django's: database sessions, ModelBackend behind django-axes. Two guards are added
for input PostgreSQL refuses (a NUL in a text made it raise, and the page answer 500)."""

from django.conf import settings
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
