"""Django's database sessions, with the session read by a query prepared once per process.

Every page request reads its session; building that query through the ORM cost several times
the query itself. Saving, creating and deleting sessions are Django's own.
"""

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.utils import timezone

from bnpl_admin.prepared import PreparedQuery

_SESSION = PreparedQuery(lambda key: Session.objects.filter(session_key=key).values_list("session_data", "expire_date"))


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        """The unexpired session (only its data is read), or None, forgetting the key, as Django does."""
        rows = _SESSION.rows(self.session_key)
        if not rows or rows[0][1] <= timezone.now():
            self._session_key = None
            return None
        return self.model(session_key=self.session_key, session_data=rows[0][0])
