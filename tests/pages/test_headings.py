"""Headings go down one level at a time on every staff page (a screen reader's outline of the page):
no h1 followed by an h3."""

import itertools
import re

import pytest

from tests.factories import MerchantFactory, PlanFactory
from tests.pages import html_of

pytestmark = pytest.mark.django_db

PAGES = [
    "/customers/",
    "/customers/usr-001/",
    "/risk/",
    "/collections/",
    "/audit/",
    "/webhooks/",
    "/merchants/",
    "/health/",
]


def _levels(html: str) -> list[int]:
    main = html.split("<main", 1)[-1]
    return [int(level) for level in re.findall(r"<h([1-6])[\s>]", main)]


@pytest.mark.parametrize("path", PAGES)
def test_headings_never_skip_a_level(superuser_client, aziz, path):
    PlanFactory(customer=aziz)
    MerchantFactory(code="shop")

    levels = _levels(html_of(superuser_client.get(path)))

    assert levels and levels[0] == 1, path
    for before, after in itertools.pairwise(levels):
        assert after <= before + 1, f"{path}: h{before} followed by h{after}"
