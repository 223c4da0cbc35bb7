"""The API's content negotiation picks what DRF's own would, for any Accept header."""

import pytest
from django.http import Http404
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer, StaticHTMLRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from bnpl_admin.api.negotiation import PlainAcceptNegotiation

ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "text/html",
    "application/json; indent=4",
    "text/html, application/json;q=0.9",
    "application/*",
    "image/png",
    "",
]
RENDERER_SETS = [[JSONRenderer()], [BrowsableAPIRenderer(), JSONRenderer()], [StaticHTMLRenderer(), JSONRenderer()]]


def _choice(negotiation, accept, renderers, query=""):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/api/v1/users/{query}", **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except NotAcceptable:
        return "406"
    except Http404:  # an unknown ?format=
        return "404"
    return type(renderer).__name__, media_type


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("renderers", RENDERER_SETS, ids=["json", "browsable-first", "html-first"])
@pytest.mark.parametrize("query", ["", "?format=json", "?format=api"])
def test_the_choice_is_drfs_own(accept, renderers, query):
    assert _choice(PlainAcceptNegotiation(), accept, renderers, query) == _choice(
        DefaultContentNegotiation(), accept, renderers, query
    )


def test_an_unacceptable_type_is_still_a_json_406(support_client):
    response = support_client.get("/api/v1/users/", HTTP_ACCEPT="text/csv")

    assert response.status_code == 406 and "error" in response.json()
