"""GET/POST /api/v1/users/ and GET /api/v1/users/<customer_id>/: masked customers."""

import datetime
import time

import pytest
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.customers.encryption import decrypt
from bnpl_admin.customers.models import Customer
from tests.api.conftest import assert_error, assert_iso_date, assert_iso_datetime
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CUSTOMER_FIELDS = {
    "user_id",
    "full_name",
    "phone_number",
    "passport_number",
    "card_number",
    "date_of_birth",
    "status",
    "created_at",
}


def new_customer(**overrides) -> dict:
    body = {
        "user_id": "usr-new",
        "full_name": "Dilnoza Karimova",
        "phone_number": "+998901234567",
        "passport_number": "AA1234567",
        "card_number": "4111111111111111",
        "date_of_birth": "1991-03-04",
    }
    body.update(overrides)
    return body


class TestList:
    def test_lists_masked_customers_in_a_paginated_envelope(self, support_client):
        CustomerFactory(
            customer_id="usr-001",
            full_name="Aziz Rahimov",
            phone_number="+998901234567",
            card_number="4111111111111111",
            passport_number="AA1234567",
        )

        response = support_client.get("/api/v1/users/")

        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/json")
        body = response.json()
        assert set(body) == {"count", "next", "previous", "results"}
        assert body["count"] == 1
        assert body["next"] is None and body["previous"] is None
        [customer] = body["results"]
        assert set(customer) == CUSTOMER_FIELDS
        assert customer["user_id"] == "usr-001"
        assert customer["full_name"] == "Aziz Rahimov"
        assert customer["phone_number"] == "+998****4567"
        assert customer["card_number"] == "4111 **** **** 1111"
        assert customer["passport_number"] == "AA*******"
        assert customer["status"] == "NORMAL"
        assert_iso_date(customer["date_of_birth"])
        assert_iso_datetime(customer["created_at"])

    def test_an_empty_list_is_an_empty_page(self, support_client):
        assert support_client.get("/api/v1/users/").json() == {
            "count": 0,
            "next": None,
            "previous": None,
            "results": [],
        }

    def test_is_ordered_by_customer_id_whatever_the_insertion_order(self, support_client):
        for customer_id in ("usr-c", "usr-a", "usr-d", "usr-b"):
            CustomerFactory(customer_id=customer_id)

        results = support_client.get("/api/v1/users/").json()["results"]

        assert [c["user_id"] for c in results] == ["usr-a", "usr-b", "usr-c", "usr-d"]

    def test_pages_through_every_customer_once_with_page_and_page_size(self, support_client):
        ids = [f"usr-{n:02d}" for n in range(7)]
        for customer_id in reversed(ids):
            CustomerFactory(customer_id=customer_id)

        first = support_client.get("/api/v1/users/", {"page_size": 3}).json()
        second = support_client.get("/api/v1/users/", {"page_size": 3, "page": 2}).json()
        third = support_client.get("/api/v1/users/", {"page_size": 3, "page": 3}).json()

        assert first["count"] == second["count"] == third["count"] == 7
        seen = [c["user_id"] for page in (first, second, third) for c in page["results"]]
        assert seen == ids
        assert first["previous"] is None
        assert "page=2" in first["next"] and "page_size=3" in first["next"]
        assert "page_size=3" in second["previous"] and "page=3" in second["next"]
        assert third["next"] is None

    def test_the_default_page_holds_twenty_and_page_size_is_capped_at_a_hundred(self, support_client):
        for n in range(105):
            CustomerFactory(customer_id=f"usr-{n:03d}")

        assert len(support_client.get("/api/v1/users/").json()["results"]) == 20
        assert len(support_client.get("/api/v1/users/", {"page_size": 1000}).json()["results"]) == 100

    def test_keyset_pages_walk_every_customer_once_even_when_rows_are_added_meanwhile(self, support_client):
        for n in range(0, 14, 2):  # usr-00, usr-02, ... usr-12
            CustomerFactory(customer_id=f"usr-{n:02d}")

        first = support_client.get("/api/v1/users/", {"page_size": 3, "after": ""}).json()
        seen = [c["user_id"] for c in first["results"]]
        url = first["next"]
        CustomerFactory(customer_id="usr-01")  # before the cursor: not this walk's business
        CustomerFactory(customer_id="usr-09")  # ahead of the cursor: met on the way
        pages = 1
        while url:
            page = support_client.get(url).json()
            assert page["previous"] is None and page["count"] == 9
            seen += [c["user_id"] for c in page["results"]]
            url, pages = page["next"], pages + 1

        assert seen == ["usr-00", "usr-02", "usr-04", "usr-06", "usr-08", "usr-09", "usr-10", "usr-12"]
        assert pages == 3

    def test_a_large_count_is_remembered_for_a_while_then_taken_again(self, support_client, monkeypatch):
        from bnpl_admin.api import pagination

        monkeypatch.setattr(pagination, "EXACT_COUNT_BELOW", 2)  # every count here is "large"
        clock = [time.time()]  # the cache's clock (the conftest empties the cache)
        monkeypatch.setattr(time, "time", lambda: clock[0])
        for n in range(3):
            CustomerFactory(customer_id=f"usr-{n}")
        assert support_client.get("/api/v1/users/").json()["count"] == 3

        CustomerFactory(customer_id="usr-3")
        clock[0] += pagination.COUNT_TTL - 1
        remembered = support_client.get("/api/v1/users/").json()
        clock[0] += 2
        retaken = support_client.get("/api/v1/users/").json()

        assert remembered["count"] == 3 and len(remembered["results"]) == 4  # the rows themselves are live
        assert retaken["count"] == 4

    def test_counts_of_different_rows_are_remembered_apart(self):
        from bnpl_admin.api.pagination import _count_key

        every = Customer.objects.order_by("customer_id")
        keys = {
            _count_key(every),
            _count_key(every.filter(status=Customer.Status.DEBT_USER)),
            _count_key(every.filter(status=Customer.Status.NORMAL)),
            _count_key(every.distinct()),
        }

        assert len(keys) == 4
        assert _count_key(every) == _count_key(Customer.objects.all())  # the order does not change a count

    @pytest.mark.parametrize("size", [1, 3, 20])
    def test_first_and_keyset_pages_show_the_rows_the_queryset_holds_read_live(self, support_client, size):
        from bnpl_admin.api.serializers import CustomerSerializer
        from bnpl_admin.customers.selectors import customer_list

        for n in (5, 1, 4, 2):
            CustomerFactory(customer_id=f"usr-{n}", date_of_birth=datetime.date(1990, 1, n))
        support_client.get("/api/v1/users/", {"page_size": size})  # read once before the rows change
        CustomerFactory(customer_id="usr-0", status=Customer.Status.DEBT_USER)  # then a row comes first
        Customer.objects.filter(customer_id="usr-4").update(full_name="Renamed", status=Customer.Status.DEBT_USER)

        first = support_client.get("/api/v1/users/", {"page_size": size}).json()["results"]
        after = support_client.get("/api/v1/users/", {"page_size": size, "after": "usr-1"}).json()["results"]

        assert first == CustomerSerializer(customer_list()[:size], many=True).data
        assert after == CustomerSerializer(customer_list().filter(customer_id__gt="usr-1")[:size], many=True).data
        assert first[0]["user_id"] == "usr-0" and first[0]["status"] == "DEBT_USER"

    def test_keyset_page_after_the_last_customer_is_empty(self, support_client):
        CustomerFactory(customer_id="usr-a")

        body = support_client.get("/api/v1/users/", {"after": "usr-a"}).json()

        assert body == {"count": 1, "next": None, "previous": None, "results": []}

    @pytest.mark.parametrize("after", ["usr a", "x" * 65, "usr-\x00", "<script>"])
    def test_a_malformed_keyset_start_is_a_json_400(self, support_client, after):
        CustomerFactory()

        assert_error(support_client.get("/api/v1/users/", {"after": after}), 400)

    @pytest.mark.parametrize("page", ["0", "99", "abc", "-1"])
    def test_a_page_that_does_not_exist_is_a_json_404(self, support_client, page):
        CustomerFactory()

        assert_error(support_client.get("/api/v1/users/", {"page": page}), 404)

    # Such a page size used to be ignored (the default page) and carried into `next` as it was.
    @pytest.mark.parametrize("page_size", ["0", "-5", "abc", "null", "", "000", "5.0", "+5", " 5", "1e2", "\u0665"])
    @pytest.mark.parametrize("after", [None, ""])
    def test_a_page_size_that_is_not_a_whole_number_of_at_least_one_is_a_json_400(
        self, support_client, page_size, after
    ):
        CustomerFactory()
        params = {"page_size": page_size} | ({"after": after} if after is not None else {})

        body = assert_error(support_client.get("/api/v1/users/", params), 400)

        assert body["error"].startswith("page_size: ")

    @pytest.mark.parametrize("query", ["page_size=5&page_size=7", "page_size=5&page_size=5", "after=&after=usr-1"])
    def test_a_page_size_or_start_given_twice_is_a_json_400(self, support_client, query):
        CustomerFactory()

        assert_error(support_client.get(f"/api/v1/users/?{query}"), 400)

    @pytest.mark.parametrize(("page_size", "rows"), [("007", 7), ("100", 100), ("101", 100), ("1" + "0" * 5000, 100)])
    def test_a_page_size_is_read_as_a_whole_number_and_kept_to_a_hundred(self, support_client, page_size, rows):
        for n in range(105):
            CustomerFactory(customer_id=f"usr-{n:03d}")

        body = support_client.get("/api/v1/users/", {"page_size": page_size}).json()

        assert len(body["results"]) == rows
        assert f"page_size={page_size}" in body["next"]

    @pytest.mark.parametrize("query", ["page=", "page=last", "page=%2B1", "page=1.0", "page=1&page=2", "after=&page=x"])
    def test_a_page_that_is_not_one_whole_number_is_a_json_404(self, support_client, query):
        CustomerFactory()

        assert_error(support_client.get(f"/api/v1/users/?{query}"), 404)


class TestDetail:
    def test_returns_one_masked_customer(self, support_client):
        CustomerFactory(
            customer_id="usr-007",
            full_name="Bekzod Aliev",
            phone_number="+998935550011",
            card_number="8600123412341234",
            passport_number="AB7654321",
            status=Customer.Status.DEBT_USER,
        )

        response = support_client.get("/api/v1/users/usr-007/")

        assert response.status_code == 200
        assert response.json() == {
            "user_id": "usr-007",
            "full_name": "Bekzod Aliev",
            "phone_number": "+998****0011",
            "passport_number": "AB*******",
            "card_number": "8600 **** **** 1234",
            "date_of_birth": "1990-05-17",
            "status": "DEBT_USER",
            "created_at": response.json()["created_at"],
        }
        assert_iso_datetime(response.json()["created_at"])

    def test_an_unknown_customer_is_a_json_404(self, support_client):
        assert_error(support_client.get("/api/v1/users/usr-missing/"), 404, "User usr-missing not found")


class TestCreate:
    def test_creates_the_customer_and_answers_201_with_the_masked_customer(self, support_client, support_user):
        response = support_client.post("/api/v1/users/", new_customer(), format="json")

        assert response.status_code == 201, response.content
        body = response.json()
        assert set(body) == CUSTOMER_FIELDS
        assert body["user_id"] == "usr-new"
        assert body["full_name"] == "Dilnoza Karimova"
        assert body["phone_number"] == "+998****4567"
        assert body["passport_number"] == "AA*******"
        assert body["card_number"] == "4111 **** **** 1111"
        assert body["date_of_birth"] == "1991-03-04"
        assert body["status"] == "NORMAL"
        assert_iso_datetime(body["created_at"])
        customer = Customer.objects.get(customer_id="usr-new")
        assert decrypt(customer.phone_encrypted) == "+998901234567"
        assert decrypt(customer.card_encrypted) == "4111111111111111"
        assert decrypt(customer.passport_encrypted) == "AA1234567"
        [event] = AuditEvent.objects.filter(action="customer.created")
        assert event.actor_user_id == support_user.pk

    def test_accepts_pii_typed_with_spaces_and_dashes(self, support_client):
        body = new_customer(phone_number="+998 90 123-45-67", card_number="4111 1111 1111 1111")

        response = support_client.post("/api/v1/users/", body, format="json")

        assert response.status_code == 201, response.content
        assert response.json()["phone_number"] == "+998****4567"
        assert response.json()["card_number"] == "4111 **** **** 1111"

    def test_a_duplicate_user_id_is_a_409_and_leaves_the_first_customer_as_it_was(self, support_client):
        support_client.post("/api/v1/users/", new_customer(), format="json")

        response = support_client.post(
            "/api/v1/users/", new_customer(full_name="Someone Else", phone_number="+998907777777"), format="json"
        )

        assert_error(response, 409, "User usr-new already exists")
        assert Customer.objects.get(customer_id="usr-new").full_name == "Dilnoza Karimova"
        assert AuditEvent.objects.filter(action="customer.created").count() == 1

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("user_id", ""),
            ("user_id", "has space"),
            ("user_id", "x" * 65),
            ("user_id", "-leading-dash"),
            ("user_id", ["usr-1"]),
            ("user_id", None),
            ("full_name", ""),
            ("full_name", "   "),
            ("full_name", "x" * 201),
            ("full_name", ["a list"]),
            ("phone_number", ""),
            ("phone_number", "12345"),
            ("phone_number", "not a phone"),
            ("phone_number", "+9989012345678901234"),
            ("passport_number", ""),
            ("passport_number", "1234567"),
            ("passport_number", "AA12"),
            ("card_number", ""),
            ("card_number", "4111"),
            ("card_number", "4111-abcd-1111-1111"),
            ("card_number", "41111111111111111111"),
            ("date_of_birth", ""),
            ("date_of_birth", "17/05/1990"),
            ("date_of_birth", "1990-02-30"),
            ("date_of_birth", "1850-01-01"),
            ("date_of_birth", "tomorrow"),
            ("date_of_birth", 19900101),
        ],
    )
    def test_an_invalid_field_is_a_400_naming_it_and_creates_nothing(self, support_client, field, value):
        response = support_client.post("/api/v1/users/", new_customer(**{field: value}), format="json")

        body = assert_error(response, 400)
        assert field in body["error"]
        assert not Customer.objects.exists()
        assert not AuditEvent.objects.filter(action="customer.created").exists()

    def test_a_birth_date_in_the_future_is_refused(self, support_client):
        tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()

        assert_error(support_client.post("/api/v1/users/", new_customer(date_of_birth=tomorrow), format="json"), 400)
        assert not Customer.objects.exists()

    @pytest.mark.parametrize("missing", sorted(CUSTOMER_FIELDS - {"status", "created_at"}))
    def test_a_missing_field_is_a_400_and_creates_nothing(self, support_client, missing):
        body = new_customer()
        del body[missing]

        assert_error(support_client.post("/api/v1/users/", body, format="json"), 400)
        assert not Customer.objects.exists()

    @pytest.mark.parametrize(
        ("payload", "content_type"),
        [("not json", "application/json"), ("[1, 2]", "application/json"), ("null", "application/json")],
    )
    def test_a_body_that_is_not_a_json_object_is_a_400(self, support_client, payload, content_type):
        response = support_client.post("/api/v1/users/", payload, content_type=content_type)

        assert_error(response, 400)
        assert not Customer.objects.exists()

    def test_a_form_encoded_body_is_refused_with_a_json_415(self, support_client):
        response = support_client.post(
            "/api/v1/users/", "user_id=usr-x", content_type="application/x-www-form-urlencoded"
        )

        assert_error(response, 415)
        assert not Customer.objects.exists()

    def test_an_invalid_phone_is_not_echoed_back(self, support_client):
        response = support_client.post("/api/v1/users/", new_customer(phone_number="+99890123456789012"), format="json")

        body = assert_error(response, 400)
        assert "99890123456789012" not in response.content.decode()
        assert "phone_number" in body["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/api/v1/users/usr%00x/"), ("get", "/api/v1/debt/usr%00x/"), ("post", "/api/v1/debt/usr%00x/")],
)
def test_a_customer_id_with_a_nul_character_is_a_json_404_not_a_500(support_client, method, path):
    support_client.raise_request_exception = False
    body = {"installment_ids": [1]} if method == "post" else None

    response = getattr(support_client, method)(path, body, format="json")

    assert_error(response, 404)
