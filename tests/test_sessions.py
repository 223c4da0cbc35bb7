"""Sessions are Django's database sessions; a crafted session cookie is no session, never a 500."""

import pytest
from django.contrib.sessions.models import Session

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
CRAFTED_KEYS = ["abcd\x00efghij", "x" * 10_000, "é" * 40]


def _sign_in(client, user):
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client.cookies["sessionid"].value


def test_signing_out_deletes_the_session(client):
    key = _sign_in(client, UserFactory.support())

    client.post("/accounts/logout/")

    assert not Session.objects.filter(session_key=key).exists()


def test_deleting_a_user_ends_their_sessions(client):
    agent = UserFactory.support()
    _sign_in(client, agent)

    agent.delete()

    assert client.get("/customers/").status_code == 302


@pytest.mark.parametrize("key", CRAFTED_KEYS)
def test_a_crafted_session_cookie_is_no_session(client, settings, key):
    """A NUL in it answered 500 on every page on PostgreSQL, which cannot even compare such a text."""
    client.cookies[settings.SESSION_COOKIE_NAME] = key

    assert client.get("/customers/").status_code == 302  # to the sign-in page
    assert client.post("/accounts/login/", {"username": "nobody", "password": "wrong"}).status_code == 200


@pytest.mark.parametrize("key", CRAFTED_KEYS)
def test_signing_in_with_a_crafted_session_cookie_starts_a_new_session(client, settings, key):
    client.cookies[settings.SESSION_COOKIE_NAME] = key

    new_key = _sign_in(client, UserFactory.support())

    assert new_key != key and Session.objects.filter(session_key=new_key).exists()
    assert client.get("/customers/").status_code == 200
