"""Token auth (`Authorization: Bearer <token>`), role permissions, and the methods each path allows.

Every refusal is a JSON `{"error": ...}` and changes nothing.
"""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from bnpl_admin.api.models import IdempotencyKey
from bnpl_admin.api.services import issue_api_token
from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.refunds.models import Refund
from tests.api.conftest import assert_error, bearer_client
from tests.factories import CustomerFactory, PlanFactory, RefundFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLE_REFUSED = "Your role does not allow this"


@pytest.fixture
def world(db):
    """One of everything, so that every path names a real object."""
    customer = CustomerFactory(customer_id="usr-a")
    plan = PlanFactory(customer=customer, total_amount=Decimal("300.00"))
    refund = RefundFactory(customer=customer, transaction_id="txn-a")
    return {"customer": customer, "plan": plan, "refund": refund, "installment": plan.installments.get(number=1)}


def snapshot() -> dict:
    """Everything a request could change."""
    return {
        "customers": list(Customer.objects.order_by("pk").values()),
        "plans": list(Plan.objects.order_by("pk").values()),
        "installments": list(Installment.objects.order_by("pk").values()),
        "refunds": list(Refund.objects.order_by("pk").values()),
        "audit": AuditEvent.objects.count(),
        "idempotency_keys": IdempotencyKey.objects.count(),
    }


def protected_requests(world) -> list[tuple[str, str, dict | None]]:
    """(method, path, JSON body) for every authenticated operation of the contract, each valid."""
    plan, refund, installment = world["plan"], world["refund"], world["installment"]
    new_customer = {
        "user_id": "usr-new",
        "full_name": "New Customer",
        "phone_number": "+998901112233",
        "passport_number": "AC1234567",
        "card_number": "4000123412341234",
        "date_of_birth": "1990-01-01",
    }
    return [
        ("get", "/api/v1/users/", None),
        ("post", "/api/v1/users/", new_customer),
        ("get", "/api/v1/users/usr-a/", None),
        ("get", "/api/v1/debt/usr-a/", None),
        ("post", "/api/v1/debt/usr-a/", {"installment_ids": [installment.pk]}),
        ("post", "/api/v1/plans/", {"user_id": "usr-a", "total_amount": "90.00"}),
        ("get", f"/api/v1/plans/{plan.pk}/", None),
        ("post", "/api/v1/refunds/", {"user_id": "usr-a", "transaction_id": "txn-new", "amount": "5.00"}),
        ("get", f"/api/v1/refunds/{refund.pk}/", None),
        ("post", f"/api/v1/refunds/{refund.pk}/cancel/", {}),
    ]


def send(client, method, path, body):
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, format="json")


OPERATIONS = [
    "GET users",
    "POST users",
    "GET user",
    "GET debt",
    "POST debt",
    "POST plans",
    "GET plan",
    "POST refunds",
    "GET refund",
    "POST cancel",
]
SUCCESS = [200, 201, 200, 200, 200, 201, 200, 201, 200, 200]


class TestAuthentication:
    @pytest.mark.parametrize("index", range(len(OPERATIONS)), ids=OPERATIONS)
    def test_no_token_is_a_json_401_and_changes_nothing(self, anonymous_client, world, index):
        method, path, body = protected_requests(world)[index]
        before = snapshot()

        response = send(anonymous_client, method, path, body)

        assert_error(response, 401, "Authentication credentials were not provided.")
        assert response["WWW-Authenticate"] == "Bearer"
        assert snapshot() == before

    @pytest.mark.parametrize("index", range(len(OPERATIONS)), ids=OPERATIONS)
    def test_an_unknown_token_is_a_json_401_and_changes_nothing(self, world, index):
        method, path, body = protected_requests(world)[index]
        before = snapshot()

        response = send(bearer_client(token="0" * 40), method, path, body)

        assert_error(response, 401, "Invalid token.")
        assert snapshot() == before

    @pytest.mark.parametrize(
        "header",
        ["Bearer", "Bearer ", "Bearer a b", "Token {token}", "Basic {token}", "bearer{token}", "{token}"],
    )
    def test_a_malformed_authorization_header_is_a_401(self, support_user, header):
        token = issue_api_token(user=support_user)
        client = bearer_client()
        client.credentials(HTTP_AUTHORIZATION=header.format(token=token))

        assert_error(client.get("/api/v1/users/"), 401)

    def test_the_keyword_is_case_insensitive_like_the_rfc_says(self, support_user):
        token = issue_api_token(user=support_user)
        client = bearer_client()
        client.credentials(HTTP_AUTHORIZATION=f"bearer {token}")

        assert client.get("/api/v1/users/").status_code == 200

    def test_a_reissued_token_replaces_the_old_one(self, support_user):
        old = issue_api_token(user=support_user)
        new = issue_api_token(user=support_user)

        assert_error(bearer_client(token=old).get("/api/v1/users/"), 401, "Invalid token.")
        assert bearer_client(token=new).get("/api/v1/users/").status_code == 200

    def test_the_token_of_a_deactivated_account_is_a_401(self, support_user):
        client = bearer_client(support_user)
        support_user.is_active = False
        support_user.save()

        assert_error(client.get("/api/v1/users/"), 401)

    def test_the_token_owner_is_the_user_holding_it_and_an_unknown_token_has_none(self, support_user):
        from bnpl_admin.api.authentication import token_owner

        assert token_owner(issue_api_token(user=support_user)) == support_user
        assert token_owner("0" * 40) is None

    def test_a_back_office_session_does_not_authenticate_the_api(self, support_user):
        browser = Client()
        browser.force_login(support_user)

        response = browser.get("/api/v1/users/")

        assert response.status_code == 401
        assert response.json()["error"]


class TestPermissions:
    @pytest.mark.parametrize("index", range(len(OPERATIONS)), ids=OPERATIONS)
    def test_a_user_in_no_role_gets_a_json_403_and_changes_nothing(self, roleless_client, world, index):
        method, path, body = protected_requests(world)[index]
        before = snapshot()

        response = send(roleless_client, method, path, body)

        assert_error(response, 403, ROLE_REFUSED)
        assert snapshot() == before

    @pytest.mark.parametrize("role", ["support", "risk"])
    @pytest.mark.parametrize("index", range(len(OPERATIONS)), ids=OPERATIONS)
    def test_support_and_risk_may_use_every_operation(self, world, role, index):
        user = UserFactory.support() if role == "support" else UserFactory.risk()
        method, path, body = protected_requests(world)[index]

        response = send(bearer_client(user), method, path, body)

        assert response.status_code == SUCCESS[index], response.content

    def test_a_superuser_may_use_the_api(self, world):
        client = bearer_client(UserFactory(is_superuser=True))

        assert client.get("/api/v1/users/").status_code == 200

    @pytest.mark.parametrize(
        ("permissions", "method", "path_key", "allowed"),
        [
            (["customers.view_customer"], "get", "users", True),
            (["customers.view_customer"], "post", "users", False),
            (["customers.add_customer"], "get", "users", False),
            (["customers.view_customer"], "get", "debt", False),  # needs plans.view_plan too
            (["customers.view_customer", "plans.view_plan"], "get", "debt", True),
            (["customers.view_customer", "plans.view_plan"], "post", "debt", False),
            (["plans.record_payment"], "post", "debt", True),
            (["plans.view_plan"], "post", "plans", False),
            (["plans.add_plan"], "post", "plans", True),
            (["plans.add_plan"], "get", "plan", False),
            (["refunds.view_refund"], "post", "refunds", False),
            (["refunds.add_refund"], "post", "refunds", True),
            (["refunds.add_refund"], "post", "cancel", False),
            (["refunds.cancel_refund"], "post", "cancel", True),
        ],
    )
    def test_each_operation_checks_its_own_permission(self, world, permissions, method, path_key, allowed):
        user = UserFactory()
        for name in permissions:
            app_label, codename = name.split(".")
            user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        paths = {
            "users": ("/api/v1/users/", {"user_id": "u-1", "full_name": "x"}),
            "debt": ("/api/v1/debt/usr-a/", {"installment_ids": [world["installment"].pk]}),
            "plans": ("/api/v1/plans/", {"user_id": "usr-a", "total_amount": "10.00"}),
            "plan": (f"/api/v1/plans/{world['plan'].pk}/", None),
            "refunds": ("/api/v1/refunds/", {"user_id": "usr-a", "transaction_id": "t-1", "amount": "1.00"}),
            "cancel": (f"/api/v1/refunds/{world['refund'].pk}/cancel/", {}),
        }
        path, body = paths[path_key]

        response = send(bearer_client(user), method, path, body if method == "post" else None)

        if allowed:
            assert response.status_code != 403, response.content
        else:
            assert_error(response, 403, ROLE_REFUSED)


def every_path(world) -> list[str]:
    plan, refund = world["plan"], world["refund"]
    return [
        "/api/v1/users/",
        "/api/v1/users/usr-a/",
        "/api/v1/debt/usr-a/",
        "/api/v1/plans/",
        f"/api/v1/plans/{plan.pk}/",
        "/api/v1/refunds/",
        f"/api/v1/refunds/{refund.pk}/",
        f"/api/v1/refunds/{refund.pk}/cancel/",
        "/api/v1/health/",
        "/api/v1/schema/",
        "/api/v1/docs/",
    ]


PATHS = ["users", "user", "debt", "plans", "plan", "refunds", "refund", "cancel", "health", "schema", "docs"]


class TestMethodsNotInTheContract:
    @pytest.mark.parametrize("method", ["put", "patch", "delete"])
    @pytest.mark.parametrize("index", range(len(PATHS)), ids=PATHS)
    def test_are_a_json_405_for_a_permitted_user_and_change_nothing(self, risk_client, world, method, index):
        path = every_path(world)[index]
        before = snapshot()

        response = getattr(risk_client, method)(path, {"status": "REJECTED", "amount": "1.00"}, format="json")

        if PATHS[index] in ("schema", "docs"):  # not JSON endpoints: the schema's or the page's own format
            assert response.status_code == 405
        else:
            assert_error(response, 405, f'Method "{method.upper()}" not allowed.')
        assert snapshot() == before

    @pytest.mark.parametrize("method", ["put", "patch", "delete"])
    @pytest.mark.parametrize("index", range(len(PATHS)), ids=PATHS)
    def test_are_refused_with_a_4xx_without_a_token_and_change_nothing(self, anonymous_client, world, method, index):
        path = every_path(world)[index]
        before = snapshot()

        response = getattr(anonymous_client, method)(path, {"status": "REJECTED"}, format="json")

        assert response.status_code in (401, 405), response.status_code
        if PATHS[index] not in ("schema", "docs"):
            assert response.json()["error"]
        assert snapshot() == before

    @pytest.mark.parametrize(
        ("method", "path_index"),
        [("get", 3), ("get", 5), ("get", 7), ("post", 1), ("post", 4), ("post", 6), ("post", 8)],
        ids=["GET plans", "GET refunds", "GET cancel", "POST user", "POST plan", "POST refund", "POST health"],
    )
    def test_a_get_or_post_the_contract_does_not_list_is_a_405(self, risk_client, world, method, path_index):
        path = every_path(world)[path_index]
        before = snapshot()

        response = getattr(risk_client, method)(path, {}, format="json") if method == "post" else risk_client.get(path)

        assert_error(response, 405)
        assert snapshot() == before

    @pytest.mark.parametrize("method", ["options", "head"])
    @pytest.mark.parametrize("index", range(len(PATHS)), ids=PATHS)
    def test_options_and_head_answer_without_a_5xx_and_change_nothing(self, risk_client, world, method, index):
        path = every_path(world)[index]
        risk_client.raise_request_exception = False
        before = snapshot()

        response = getattr(risk_client, method)(path)

        assert response.status_code < 500, response.content[:300]
        assert snapshot() == before


class TestRevocation:
    """A role taken away, a deactivated user or a deleted token is refused on the next call."""

    def test_a_role_taken_away_is_refused_on_the_next_call(self, world):
        user = UserFactory.support()
        client = bearer_client(user)
        assert client.get("/api/v1/users/").status_code == 200
        user.groups.clear()
        assert_error(client.get("/api/v1/users/"), 403, ROLE_REFUSED)

    def test_a_deactivated_user_or_a_deleted_token_is_refused_at_once(self, world):
        from rest_framework.authtoken.models import Token

        user = UserFactory.support()
        client = bearer_client(user)
        assert client.get("/api/v1/users/").status_code == 200
        user.is_active = False
        user.save(update_fields=["is_active"])
        assert client.get("/api/v1/users/").status_code == 401

        other = UserFactory.support()
        client = bearer_client(other)
        assert client.get("/api/v1/users/").status_code == 200
        Token.objects.filter(user=other).delete()
        assert client.get("/api/v1/users/").status_code == 401
