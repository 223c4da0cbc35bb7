"""Django's database sessions, with the session read by a query written once per process.

Every page request reads its session; building that query through the ORM cost several times
the query itself. Saving, creating and deleting sessions are Django's own.
"""

import functools

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


@functools.cache
def _query(vendor: str) -> str:
    from django.contrib.sessions.models import Session

    connection = connections[router.db_for_read(Session)]
    qn = connection.ops.quote_name
    field = Session._meta.get_field
    return (
        f"SELECT {qn(field('session_data').column)} FROM {qn(Session._meta.db_table)} "
        f"WHERE {qn(field('session_key').column)} = %s AND {qn(field('expire_date').column)} > %s"
    )


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        """The unexpired session row (only its data is read), or None, forgetting the key, as Django does."""
        connection = connections[router.db_for_read(self.model)]
        with connection.cursor() as cursor:
            now = connection.ops.adapt_datetimefield_value(timezone.now())
            cursor.execute(_query(connection.vendor), [self.session_key, now])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return self.model(session_key=self.session_key, session_data=row[0])
