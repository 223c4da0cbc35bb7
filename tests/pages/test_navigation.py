"""The navigation bar follows the page and the role; the CSRF token and the CSP nonce are never shared."""

import re

import pytest

from tests.pages import html_of

pytestmark = pytest.mark.django_db

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
NONCE = re.compile(r'<script nonce="([^"]+)"')


def _current(html: str) -> list[str]:
    return re.findall(r'<a href="[^"]+" aria-current="page">([^<]+)</a>', html)


def test_the_current_section_follows_the_page(risk_client):
    assert _current(html_of(risk_client.get("/customers/"))) == ["Customers"]
    assert _current(html_of(risk_client.get("/risk/"))) == ["Risk review"]
    assert _current(html_of(risk_client.get("/merchants/"))) == ["Merchants"]
    assert _current(html_of(risk_client.get("/webhooks/"))) == ["Webhooks"]
    assert _current(html_of(risk_client.get("/customers/"))) == ["Customers"]


def test_each_role_keeps_its_own_sections_after_another_role_was_served(support_client, risk_client):
    assert 'href="/risk/"' in html_of(risk_client.get("/customers/"))
    assert 'href="/risk/"' not in html_of(support_client.get("/customers/"))
    assert 'href="/audit/"' in html_of(risk_client.get("/customers/"))


def test_the_csrf_token_and_the_csp_nonce_are_never_shared(client_for):
    first, second = html_of(client_for("risk").get("/customers/")), html_of(client_for("risk").get("/customers/"))

    assert CSRF.findall(first) and set(CSRF.findall(first)).isdisjoint(CSRF.findall(second))
    if NONCE.search(first):
        assert NONCE.search(first).group(1) != NONCE.search(second).group(1)


def test_an_htmx_fragment_does_not_read_the_role_or_the_permissions(risk_client, django_assert_max_num_queries):
    risk_client.get("/health/")
    with django_assert_max_num_queries(20) as captured:
        risk_client.get("/health/", headers={"HX-Request": "true"})

    sql = " ".join(query["sql"] for query in captured.captured_queries)
    assert "auth_group" not in sql and "auth_permission" not in sql
