"""GET /api/v1/health/ (public probe, no business numbers), /api/v1/schema/ (OpenAPI 3) and
/api/v1/docs/ (Swagger UI served from local static files: no CDN)."""

import json
import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.db import connection
from rest_framework.test import APIClient

from bnpl_admin.dashboard import health
from tests.api.conftest import bearer_client

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
    ("/api/v1/refunds/", "post"),
    ("/api/v1/refunds/{refund_id}/", "get"),
    ("/api/v1/refunds/{refund_id}/cancel/", "post"),
    ("/api/v1/health/", "get"),
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
POSTS = sorted(path for path, method in CONTRACT if method == "post")
AUTHENTICATED = sorted(op for op in CONTRACT if op[0] != "/api/v1/health/")


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

    @pytest.mark.parametrize(
        ("path", "method", "statuses"),
        [
            ("/api/v1/users/", "post", {"201", "400", "409"}),
            ("/api/v1/users/{customer_id}/", "get", {"200", "404"}),
            ("/api/v1/debt/{customer_id}/", "get", {"200", "404"}),
            ("/api/v1/debt/{customer_id}/", "post", {"200", "400", "404"}),
            ("/api/v1/plans/", "post", {"201", "400", "403", "404"}),
            ("/api/v1/plans/{plan_id}/", "get", {"200", "404"}),
            ("/api/v1/refunds/", "post", {"200", "201", "400", "409"}),
            ("/api/v1/refunds/{refund_id}/", "get", {"200", "404"}),
            ("/api/v1/refunds/{refund_id}/cancel/", "post", {"200", "400", "404"}),
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
