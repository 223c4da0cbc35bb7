"""Request bodies the JSON parser cannot take: a 400 with the API's error body, never a 500."""

import pytest
from rest_framework.test import APIClient

from bnpl_admin.api.services import issue_api_token
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans.models import Plan
from bnpl_admin.refunds.models import Refund
from tests.api.conftest import assert_error
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Far deeper than Python's JSON decoder follows, far below the upload size limit (2.5 MB).
DEEP_LIST = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
POSTS = ["/api/v1/users/", "/api/v1/plans/", "/api/v1/refunds/", "/api/v1/debt/usr-1/"]


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("body", [DEEP_LIST, DEEP_OBJECT], ids=["list", "object"])
def test_a_body_nested_too_deep_to_parse_is_a_400_and_changes_nothing(path, body):
    """Each such POST answered 500 (RecursionError in the parser)."""
    client = APIClient()  # not the PII-checking client of the other tests: it parses what it sends
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=UserFactory(is_superuser=True))}")

    response = client.generic("POST", path, body, content_type="application/json")

    assert_error(response, 400, "JSON parse error - nested too deeply")
    assert not (Customer.objects.exists() or Plan.objects.exists() or Refund.objects.exists())
