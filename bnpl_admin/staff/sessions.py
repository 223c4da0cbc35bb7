"""Django's database sessions, read together with the signed-in user in one prepared query.

Every page request reads its session, then the user it names: two round trips, each a query
PostgreSQL parses and plans, on the same two cores as the web workers. The session table here
(`StaffSession`) keeps the user's id in a column, so the one query that reads the session also
reads the user's row. `staff.middleware.AuthenticationMiddleware` lets the authentication
backend take that row while Django's `get_user` verifies the session (same checks, same order:
the session's user id and backend, the user active, the password hash); anything that does not
match, or a session without a user, falls back to reading the user by its id.

Saving, creating and deleting sessions are Django's own; saving also writes the user column.
"""

from contextvars import ContextVar

from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.backends import db
from django.core.exceptions import ValidationError
from django.utils import timezone

from bnpl_admin.prepared import PreparedQuery, every_column
from bnpl_admin.staff.models import StaffSession
from bnpl_admin.text import storable

_USER_COLUMNS = every_column(get_user_model())
_SESSION = PreparedQuery(
    lambda key: StaffSession.objects.filter(session_key=key).values_list(
        "session_data", "expire_date", *(f"user__{column}" for column in _USER_COLUMNS)
    )
)

# The session whose user is being looked up, while `AuthenticationMiddleware` evaluates request.user.
verifying: ContextVar["SessionStore | None"] = ContextVar("verifying_session", default=None)


class SessionStore(db.SessionStore):
    # The user row read with the session (None: no session, or no user in it).
    user_read_with_session = None

    @classmethod
    def get_model_class(cls):
        return StaffSession

    def _validate_session_key(self, key):
        """Django's check, and no NUL: PostgreSQL cannot even compare such a text (a crafted session
        cookie answered 500 on every page); such a key is no session, as a too short one is."""
        return super()._validate_session_key(key) and storable(key)

    def _get_session_from_db(self):
        """The unexpired session (only its data is read), or None, forgetting the key, as Django does."""
        rows = _SESSION.rows(self.session_key)
        if not rows or rows[0][1] <= timezone.now():
            self._session_key = None
            return None
        session_data, _, *user = rows[0]
        if user[0] is not None:
            self.user_read_with_session = get_user_model().from_db(_SESSION.using, _USER_COLUMNS, user)
        return self.model(session_key=self.session_key, session_data=session_data)

    def flush(self):
        self.user_read_with_session = None
        super().flush()

    def cycle_key(self):
        self.user_read_with_session = None
        super().cycle_key()

    def create_model_instance(self, data):
        session = super().create_model_instance(data)
        session.user_id = user_pk(data.get(SESSION_KEY))
        return session


def user_pk(value):
    """A user id as the session data holds it (text), as a key of the user table; None when it is
    none or not one."""
    if value is None:
        return None
    try:
        return get_user_model()._meta.pk.to_python(value)
    except ValidationError:
        return None


def user_read_with_session(user_id):
    """The user row the session being verified was read with, if it is user `user_id`'s; else None."""
    session = verifying.get()
    user = getattr(session, "user_read_with_session", None)
    if user is None or user.pk != user_id:
        return None
    return user
