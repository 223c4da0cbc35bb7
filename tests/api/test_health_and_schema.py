"""GET /api/v1/health/ (public probe, no business numbers), /api/v1/schema/ (OpenAPI 3) and
/api/v1/docs/ (Swagger UI served from local static files: no CDN)."""

import json
import re

import jsonschema
import pytest
import yaml
from django.contrib.staticfiles import finders
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import serializers
from rest_framework.test import APIClient

from bnpl_admin.api import serializers as s
from bnpl_admin.api.idempotency import KEY
from bnpl_admin.api.models import IdempotencyKey
from bnpl_admin.dashboard import health
from bnpl_admin.plans.models import Plan
from tests.api.conftest import bearer_client
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

# The contract's operations: (path, method).
CONTRACT = {
    ("/api/v1/users/", "get"),
    ("/api/v1/users/", "post"),
    ("/api/v1/users/{customer_id}/", "get"),
    ("/api/v1/debt/{customer_id}/", "get"),
    ("/api/v1/debt/{customer_id}/", "post"),
    ("/api/v1/plans/", "post"),
    ("/api/v1/plans/{plan_id}/", "get"),
    ("/api/v1/plans/{plan_id}/cancel/", "post"),
    ("/api/v1/payments/", "post"),
    ("/api/v1/payments/{payment_id}/", "get"),
    ("/api/v1/payments/{payment_id}/reverse/", "post"),
    ("/api/v1/refunds/", "post"),
    ("/api/v1/refunds/{refund_id}/", "get"),
    ("/api/v1/refunds/{refund_id}/cancel/", "post"),
    ("/api/v1/risk/portfolio/", "get"),
    ("/api/v1/users/{customer_id}/case/", "get"),
    ("/api/v1/users/{customer_id}/case/notes/", "post"),
    ("/api/v1/users/{customer_id}/case/promises/", "post"),
    ("/api/v1/health/", "get"),
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
POSTS = sorted(path for path, method in CONTRACT if method == "post")
AUTHENTICATED = sorted(op for op in CONTRACT if op[0] != "/api/v1/health/")
REQUESTS = [
    s.CustomerCreateSerializer,
    s.RepaymentSerializer,
    s.PlanCreateSerializer,
    s.RefundCreateSerializer,
    s.CancelRefundSerializer,
    s.PaymentCreateSerializer,
    s.ReasonSerializer,
    s.CaseNoteCreateSerializer,
    s.PromiseCreateSerializer,
]
AMOUNTISH = r"\s?[+-]?0{0,3}[0-9]{0,14}(\.[0-9]{0,3})?\s?"


class TestHealth:
    def test_needs_no_token_and_reports_degraded_when_no_task_cluster_reports(self, anonymous_client):
        response = anonymous_client.get("/api/v1/health/")

        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/json")
        assert response.json() == {"status": "degraded", "database": "ok", "task_queue": "down"}

    def test_a_bad_token_is_ignored(self, db):
        assert bearer_client(token="nonsense").get("/api/v1/health/").status_code == 200

    def test_is_ok_when_a_task_cluster_reports(self, anonymous_client, monkeypatch):
        monkeypatch.setattr(health, "running_clusters", lambda: 1)

        response = anonymous_client.get("/api/v1/health/")

        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok", "task_queue": "ok"}

    def test_an_unreadable_cluster_status_is_degraded_not_an_error(self, anonymous_client, monkeypatch):
        from django_q.status import Stat

        def broken():
            raise RuntimeError("cache unreachable")

        monkeypatch.setattr(Stat, "get_all", staticmethod(broken))

        response = anonymous_client.get("/api/v1/health/")

        assert response.status_code == 200
        assert response.json() == {"status": "degraded", "database": "ok", "task_queue": "unknown"}

    def test_carries_no_business_numbers(self, anonymous_client):
        from tests.factories import CustomerFactory, PlanFactory

        PlanFactory(customer=CustomerFactory())

        body = anonymous_client.get("/api/v1/health/").json()

        assert set(body) == {"status", "database", "task_queue"}
        assert all(isinstance(value, str) and not re.search(r"\d", value) for value in body.values())

    def test_is_a_503_when_the_database_does_not_answer(self, anonymous_client, monkeypatch):
        monkeypatch.setattr(health, "database_round_trip", lambda: None)

        response = anonymous_client.get("/api/v1/health/")

        assert response.status_code == 503
        body = response.json()
        assert set(body) == {"status", "database", "task_queue"}
        assert body["status"] == "degraded"  # the contract's two values; the 503 says the rest
        assert body["database"] == "unavailable"

    @pytest.mark.django_db(transaction=True)
    def test_is_a_503_when_opening_a_cursor_fails(self, monkeypatch):
        def refuse(*args, **kwargs):
            raise health.connection.Database.OperationalError("connection refused")

        monkeypatch.setattr(health.connection, "cursor", refuse)
        try:
            response = APIClient().get("/api/v1/health/")  # no PII check: it would need the database
        finally:
            monkeypatch.undo()

        assert response.status_code == 503
        assert response.json()["database"] != "ok"
        with connection.cursor() as cursor:  # the probe left the connection usable
            cursor.execute("SELECT 1")

    @pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
    def test_only_get_is_allowed(self, anonymous_client, method):
        response = getattr(anonymous_client, method)("/api/v1/health/")

        assert response.status_code == 405
        assert response.json()["error"]


@pytest.fixture
def schema(risk_client):
    response = risk_client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def operations(document) -> set[tuple[str, str]]:
    return {(path, method) for path, item in document["paths"].items() for method in item if method in HTTP_METHODS}


class TestSchema:
    def test_is_an_openapi_3_document_in_yaml_by_default(self, risk_client):
        response = risk_client.get("/api/v1/schema/")

        assert response.status_code == 200
        assert "openapi" in response["Content-Type"]
        document = yaml.safe_load(response.content)
        assert str(document["openapi"]).startswith("3.")
        assert operations(document) == CONTRACT

    def test_is_json_with_format_json(self, risk_client):
        response = risk_client.get("/api/v1/schema/", {"format": "json"})

        assert response.status_code == 200
        assert "json" in response["Content-Type"]
        assert json.loads(response.content)["openapi"].startswith("3.")

    def test_lists_exactly_the_contract_paths_and_methods(self, schema):
        assert operations(schema) == CONTRACT

    def test_declares_bearer_token_auth_and_leaves_the_health_probe_public(self, schema):
        schemes = schema["components"]["securitySchemes"]
        assert {"type": "http", "scheme": "bearer"} in schemes.values()
        for path, method in AUTHENTICATED:
            requirements = schema["paths"][path][method]["security"]
            assert {} not in requirements, (path, method)
        health_security = schema["paths"]["/api/v1/health/"]["get"].get("security", [{}])
        assert {} in health_security

    @pytest.mark.parametrize("path", POSTS)
    def test_every_post_documents_the_idempotency_key_header(self, schema, path):
        parameters = schema["paths"][path]["post"].get("parameters", [])

        assert any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in parameters)

    @pytest.mark.parametrize("path", POSTS)
    def test_every_post_declares_the_keys_it_takes_and_the_409_and_422_a_key_can_answer(self, schema, path):
        operation = schema["paths"][path]["post"]
        [header] = [p for p in operation["parameters"] if p["in"] == "header" and p["name"] == "Idempotency-Key"]

        assert header["schema"] == {"type": "string", "pattern": f"^{KEY.pattern}$"}
        assert {"409", "422"} <= set(operation["responses"])
        assert operation["responses"]["422"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }

    # Any string was documented: "", "é" or 256 characters were schema-valid and refused (a 400).
    @pytest.mark.parametrize(
        "key",
        ["k", "k" * 255, "a b~!", " \tk\t ", "", " ", "\t", "k" * 256, "k\u00e9", "k\x00", "k\x0b", "\x1ck", "a\tb"],
    )
    def test_the_idempotency_key_pattern_takes_exactly_the_keys_the_server_takes(self, schema, risk_client, key):
        [header] = [p for p in schema["paths"]["/api/v1/plans/"]["post"]["parameters"] if p["in"] == "header"]
        CustomerFactory(customer_id="usr-k")

        response = risk_client.post(
            "/api/v1/plans/", {"user_id": "usr-k", "total_amount": "90.00"}, format="json", HTTP_IDEMPOTENCY_KEY=key
        )

        taken = re.search(header["schema"]["pattern"], key) is not None
        assert response.status_code == (201 if taken else 400), response.content
        assert Plan.objects.exists() == taken
        assert IdempotencyKey.objects.exists() == taken

    def test_the_user_list_declares_page_and_page_size_as_whole_numbers_of_at_least_one(self, schema):
        parameters = {p["name"]: p for p in schema["paths"]["/api/v1/users/"]["get"]["parameters"]}

        assert parameters["page"]["schema"] == {"type": "integer", "minimum": 1}
        # No maximum: a larger page size is taken, and gives 100 rows.
        assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1}
        assert "more than 100 gives 100" in parameters["page_size"]["description"]

    @pytest.mark.parametrize("serializer", REQUESTS, ids=lambda serializer: serializer.__name__)
    def test_every_request_text_the_server_refuses_blank_declares_a_min_length_of_one(self, schema, serializer):
        component = schema["components"]["schemas"][serializer.__name__.removesuffix("Serializer")]

        for name, field in serializer().fields.items():
            if isinstance(field, serializers.CharField) and not field.allow_blank:
                assert component["properties"][name]["minLength"] == 1, name
                assert "pattern" in component["properties"][name], name

    @pytest.mark.parametrize(
        ("component", "name"),
        [
            ("CustomerCreate", "user_id"),
            ("CustomerCreate", "full_name"),
            ("RefundCreate", "transaction_id"),
            ("RefundCreate", "reason"),
            ("CancelRefund", "reason"),
            ("PlanCreate", "total_amount"),
            ("RefundCreate", "amount"),
            ("PaymentCreate", "amount"),
            ("PaymentCreate", "reference"),
            ("Reason", "reason"),
            ("CaseNoteCreate", "text"),
            ("PromiseCreate", "amount"),
        ],
    )
    def test_a_request_text_or_amount_takes_exactly_what_its_schema_takes(self, schema, component, name):
        """Blank, only whitespace, a NUL: what the server refuses, the schema refuses too, and the
        other way round (short values: the server trims whitespace before it counts the length)."""
        field = next(c for c in REQUESTS if c.__name__ == f"{component}Serializer")().fields[name]
        property_schema = schema["components"]["schemas"][component]["properties"][name]
        validator = jsonschema.Draft4Validator(property_schema)
        tricky = st.sampled_from(list(" \t\n\x00\x0b\x1c\x85\xa0\ufeff\u0665\u00e9a01.+-e"))

        @settings(
            max_examples=300, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
        )
        @given(st.one_of(st.text(tricky, max_size=8), st.text(max_size=8), st.from_regex(AMOUNTISH, fullmatch=True)))
        def agree(value):
            try:
                field.run_validation(value)
                server_takes = True
            except serializers.ValidationError:
                server_takes = False
            assert validator.is_valid(value) == server_takes, (value, property_schema)

        agree()

    @pytest.mark.parametrize(
        ("path", "method", "statuses"),
        [
            ("/api/v1/users/", "post", {"201", "400", "409"}),
            ("/api/v1/users/{customer_id}/", "get", {"200", "404"}),
            ("/api/v1/debt/{customer_id}/", "get", {"200", "404"}),
            ("/api/v1/debt/{customer_id}/", "post", {"200", "400", "404"}),
            ("/api/v1/plans/", "post", {"201", "400", "403", "404"}),
            ("/api/v1/plans/{plan_id}/", "get", {"200", "404"}),
            ("/api/v1/plans/{plan_id}/cancel/", "post", {"200", "400", "404"}),
            ("/api/v1/payments/", "post", {"200", "201", "400", "404", "409"}),
            ("/api/v1/payments/{payment_id}/", "get", {"200", "404"}),
            ("/api/v1/payments/{payment_id}/reverse/", "post", {"200", "400", "403", "404"}),
            ("/api/v1/refunds/", "post", {"200", "201", "400", "409"}),
            ("/api/v1/refunds/{refund_id}/", "get", {"200", "404"}),
            ("/api/v1/refunds/{refund_id}/cancel/", "post", {"200", "400", "404"}),
            ("/api/v1/risk/portfolio/", "get", {"200"}),
            ("/api/v1/users/{customer_id}/case/", "get", {"200", "404"}),
            ("/api/v1/users/{customer_id}/case/notes/", "post", {"201", "400", "404"}),
            ("/api/v1/users/{customer_id}/case/promises/", "post", {"201", "400", "404"}),
            ("/api/v1/health/", "get", {"200", "503"}),
        ],
    )
    def test_documents_the_contract_status_codes(self, schema, path, method, statuses):
        assert statuses <= set(schema["paths"][path][method]["responses"])

    @pytest.mark.parametrize(("path", "method"), AUTHENTICATED)
    def test_every_authenticated_operation_documents_401_and_403(self, schema, path, method):
        assert {"401", "403"} <= set(schema["paths"][path][method]["responses"])

    def test_the_user_list_documents_the_404_of_a_page_out_of_range(self, schema):
        assert "404" in schema["paths"]["/api/v1/users/"]["get"]["responses"]

    @pytest.mark.parametrize(
        ("component", "field"),
        [
            ("Plan", "total_amount"),
            ("Installment", "amount_due"),
            ("Refund", "amount"),
            ("DebtStatus", "total_debt"),
            ("OverdueInstallment", "amount_due"),
            ("OverdueInstallment", "amount_remaining"),
            ("Installment", "amount_paid"),
            ("Installment", "amount_refunded"),
            ("Installment", "amount_remaining"),
            ("Refund", "amount_applied"),
            ("Refund", "amount_to_customer"),
            ("Payment", "amount"),
            ("Allocation", "amount"),
            ("Portfolio", "total_outstanding"),
            ("Portfolio", "par30"),
            ("Portfolio", "par60"),
            ("Portfolio", "par90"),
            ("Bucket", "outstanding"),
            ("Promise", "amount"),
        ],
    )
    def test_amounts_are_documented_as_strings(self, schema, component, field):
        assert schema["components"]["schemas"][component]["properties"][field]["type"] == "string"


def _assets(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)


REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|@import\s+url\(\s*['"]?(?:https?:)?//""", re.IGNORECASE)


class TestDocs:
    def test_renders_swagger_ui(self, risk_client):
        response = risk_client.get("/api/v1/docs/")

        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")
        html = response.content.decode()
        assert "swagger-ui" in html.lower()
        assert any(a.endswith("swagger-ui-bundle.js") for a in _assets(html)), _assets(html)

    def test_loads_scripts_and_styles_only_from_this_server(self, risk_client):
        html = risk_client.get("/api/v1/docs/").content.decode()

        assert not REMOTE.search(html), html
        assets = _assets(html)
        assert any(".js" in a for a in assets) and any(a.endswith(".css") for a in assets), assets
        for asset in assets:
            if asset.startswith("/static/"):
                assert finders.find(asset.removeprefix("/static/")), f"{asset} is not a static file of the project"
            else:  # the docs view's own script (Swagger UI served split, for the CSP)
                assert asset.startswith("/api/v1/docs/"), asset
                response = risk_client.get(asset)
                assert response.status_code == 200, asset
                assert not re.search(r"""["'`](?:https?:)?//""", response.content.decode()), asset

    def test_points_swagger_ui_at_the_local_schema(self, risk_client):
        html = risk_client.get("/api/v1/docs/").content.decode()
        scripts = [html] + [risk_client.get(a).content.decode() for a in _assets(html) if a.startswith("/api/v1/docs/")]

        assert any('"/api/v1/schema/"' in text for text in scripts)
