"""Sessions read with their signed-in user in one query (staff.sessions), and never trusted more
than Django's own checks: the user is the one the session's data names, active, with the same
password hash."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bnpl_admin.staff.models import StaffSession
from bnpl_admin.staff.sessions import verifying
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def _sign_in(client, user):
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return StaffSession.objects.get(session_key=client.cookies["sessionid"].value)


def _queries_of(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response, [query["sql"] for query in queries.captured_queries]


def test_a_page_reads_its_session_and_the_signed_in_user_in_one_query(client):
    _sign_in(client, UserFactory.support())
    client.get("/customers/")  # the first page of a session also writes it

    response, sql = _queries_of(client, "/customers/")

    assert response.status_code == 200
    session_reads = [query for query in sql if "staff_staffsession" in query]
    assert len(session_reads) == 1 and '"auth_user"' in session_reads[0]
    assert not [query for query in sql if query.startswith('SELECT "auth_user"')]


def test_the_session_row_names_its_user_and_signing_out_deletes_it(client):
    agent = UserFactory.support()
    row = _sign_in(client, agent)

    assert row.user_id == agent.pk
    client.post("/accounts/logout/")
    assert not StaffSession.objects.filter(session_key=row.session_key).exists()


def test_the_user_read_with_the_session_is_the_one_the_orm_loads(client):
    agent = UserFactory.support()
    session = client.session.__class__(_sign_in(client, agent).session_key)
    session.load()

    read = session.user_read_with_session
    expected = get_user_model().objects.get(pk=agent.pk)
    assert {f.attname: getattr(read, f.attname) for f in expected._meta.concrete_fields} == {
        f.attname: getattr(expected, f.attname) for f in expected._meta.concrete_fields
    }
    assert read._state.adding is False and read.get_session_auth_hash() == expected.get_session_auth_hash()


def test_a_user_column_that_disagrees_with_the_session_data_gives_nothing(client):
    """Only the user the session's signed data names is signed in: a row pointing elsewhere (a
    tampered or stale column) never lends another user's roles."""
    agent, officer = UserFactory.support(), UserFactory.risk()
    row = _sign_in(client, agent)
    StaffSession.objects.filter(pk=row.pk).update(user=officer)

    assert client.get("/risk/").status_code == 403
    assert client.get("/customers/").status_code == 200  # still the support agent


def test_a_session_without_a_user_column_still_signs_its_user_in(client):
    """Sessions saved before the column existed (or by another writer) fall back to reading the user."""
    row = _sign_in(client, UserFactory.support())
    StaffSession.objects.filter(pk=row.pk).update(user=None)

    response, sql = _queries_of(client, "/customers/")

    assert response.status_code == 200
    assert [query for query in sql if query.startswith('SELECT "auth_user"')]


def test_deleting_a_user_ends_their_sessions(client):
    agent = UserFactory.support()
    row = _sign_in(client, agent)

    agent.delete()

    assert not StaffSession.objects.filter(pk=row.pk).exists()
    assert client.get("/customers/").status_code == 302


def test_no_session_is_left_marked_after_a_request(client):
    _sign_in(client, UserFactory.support())

    client.get("/customers/")

    assert verifying.get() is None


@pytest.mark.parametrize("key", ["abcd\x00efghij", "x" * 10_000, "é" * 40])
def test_a_crafted_session_cookie_is_no_session(client, settings, key):
    """A NUL in it answered 500 on every page on PostgreSQL, which cannot even compare such a text."""
    client.cookies[settings.SESSION_COOKIE_NAME] = key

    assert client.get("/customers/").status_code == 302  # to the sign-in page
    assert client.post("/accounts/login/", {"username": "nobody", "password": "wrong"}).status_code == 200
