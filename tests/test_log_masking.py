"""What a request writes to the logs, as the console handler formats it (plain and JSON): never a
customer's raw phone, card or passport number, however the URL spells it, and every JSON line parses.

These requests put personal data into URLs on purpose, so the records themselves carry it (the
suite-wide watcher of tests/conftest.py would fail them); what is checked is the formatted output.
"""

import io
import json
import logging
import re

import pytest
from django.test import Client

from bnpl_admin.customers.masking import mask_free_text
from bnpl_admin.staff.logging import MaskingFormatter, RequestJsonFormatter
from tests.api.conftest import bearer_client
from tests.factories import CustomerFactory, UserFactory

PHONE = "+998911242486"
CARD = "9860000154858633"
PASSPORT = "AA7319264"

PHONE_FORMS = [
    "+998%2091%20124%2024%2086",
    "%2B998%2091%20124%2024%2086",
    "998-91-124-24-86",
    "+998.91.124.24.86",
    "+998%20(91)%20124-24-86",
    "998911242486",
    "911242486",
]
CARD_FORMS = ["9860%200001%205485%208633", "9860-0001-5485-8633", "9860.0001.5485.8633", CARD]
PASSPORT_FORMS = [PASSPORT, "AA%207319264", "AA-7319264", "aa7319264"]

# The digit runs that identify the customer: the phone without its country code, the card past its
# first four digits (masks keep no more than those), the passport's number.
SECRET_DIGITS = ["911242486", "000154858633", "7319264"]


def _paths(form: str) -> list[str]:
    return [
        f"/api/v1/users/{form}/",
        f"/api/v1/users/?after={form}",
        f"/api/v1/users/?page={form}",
        f"/api/v1/debt/{form}/",
        f"/customers/{form}/",
        f"/customers/?q={form}",
    ]


class CapturedLogs:
    """Two console-like handlers on the root logger, one per LOG_FORMAT, writing to memory."""

    def __init__(self):
        self.plain, self.json = io.StringIO(), io.StringIO()
        self.handlers = [logging.StreamHandler(self.plain), logging.StreamHandler(self.json)]
        self.handlers[0].setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        self.handlers[1].setFormatter(RequestJsonFormatter())

    def lines(self) -> list[str]:
        return self.plain.getvalue().splitlines() + self.json.getvalue().splitlines()

    def json_lines(self) -> list[str]:
        return self.json.getvalue().splitlines()


@pytest.fixture
def captured_logs(_no_raw_personal_data_in_logs):
    logs = CapturedLogs()
    root = logging.getLogger()
    for handler in logs.handlers:
        root.addHandler(handler)
    try:
        yield logs
    finally:
        for handler in logs.handlers:
            root.removeHandler(handler)
        _no_raw_personal_data_in_logs.leaks.clear()  # the records carry the URL; the output must not


@pytest.fixture
def customer(db):
    return CustomerFactory(phone_number=PHONE, card_number=CARD, passport_number=PASSPORT)


def _request_everything(form: str) -> None:
    user = UserFactory.risk()
    api = bearer_client(user)
    pages = Client()  # the search box shows back what the agent typed: only the logs are checked here
    pages.force_login(user)
    for path in _paths(form):
        client = api if path.startswith("/api/") else pages
        client.get(path, headers={"X-Request-ID": "req-log"})


def _digit_runs(line: str) -> str:
    return "".join(ch for ch in line if ch.isdigit())


@pytest.mark.django_db
@pytest.mark.parametrize("form", PHONE_FORMS + CARD_FORMS + PASSPORT_FORMS)
def test_no_log_line_of_a_request_holds_the_customers_number_however_the_url_spells_it(customer, captured_logs, form):
    _request_everything(form)

    lines = captured_logs.lines()
    assert any("req-log" in line for line in lines)  # the access lines were captured
    for line in lines:
        for secret in SECRET_DIGITS:
            assert secret not in _digit_runs(line), line


HOSTILE_PATHS = [
    "/api/v1/users/%01234567/",
    "/api/v1/users/%00%0012345678/",
    "/api/v1/users/%5Cu0001234567/",
    "/api/v1/users/%22%7D%7B%22x%22:1/",
    "/api/v1/users/%E2%80%A8%E2%80%A912345678/",
    "/customers/%5C%5C%5C%22%0A%0D98765432/",
    "/api/v1/debt/%F0%9F%92%B3+998%2091%20124%2024%2086/",
    "/api/v1/users/?after=%01%02%03998911242486&page=%5Cx00",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_every_json_log_line_parses_whatever_the_request(customer, captured_logs, path):
    user = UserFactory.risk()
    client = bearer_client(user) if path.startswith("/api/") else Client()
    client.force_login(user)

    client.get(path)

    lines = captured_logs.json_lines()
    assert lines
    for line in lines:
        record = json.loads(line)  # raises on a broken line
        assert isinstance(record["message"], str)
        for secret in SECRET_DIGITS:
            assert secret not in _digit_runs(line)


def test_json_masking_works_on_values_before_they_are_serialised():
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "path %s", ("/u/\x01234567890/",), None)
    record.path = "/u/+998 91 124 24 86/"

    data = json.loads(RequestJsonFormatter().format(record))

    assert data["message"] == "path /u/\x01234****/"
    assert data["path"] == "/u/+998****/"


@pytest.mark.parametrize(
    "text",
    [
        "GET /customers/usr-1000000/ 200 in 1234.5ms",
        "check_overdue as_of=2026-11-26 installments_marked_overdue=101306 customers_marked_debt=100211",
        "2026-12-03T12:05:37.123456+00:00 from 127.0.0.1",
        "plan 3b7dd82d-4b57-4dd8-8828-16814978798a refund txn-usr-280-ca0841de",
    ],
)
def test_masking_leaves_ids_dates_addresses_and_timings_readable(text):
    assert mask_free_text(text) == text


@pytest.mark.parametrize(
    "raw, masked",
    [
        ("+998 (91) 124-24-86", "+998****"),
        ("998-91-124-24-86", "998****"),
        ("+998%2091%20124%2024%2086", "+998****"),
        ("9860.0001.5485.8633", "986****"),
        ("AA 7319264", "AA****"),
        ("AA%2D7319264", "AA****"),
    ],
)
def test_masking_reads_numbers_as_people_write_them(raw, masked):
    assert mask_free_text(f"lookup {raw} done") == f"lookup {masked} done"


def test_masked_output_keeps_no_identifying_digit_run():
    line = mask_free_text("phone +998911242486 card 9860 0001 5485 8633 passport AA7319264")

    assert not any(secret in re.sub(r"\D", "", line) for secret in SECRET_DIGITS)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "method, path, permission",
    [
        ("get", "/risk/", "customers.review_debt"),  # a class-based view
        ("post", "/customers/{id}/reveal/phone/", "customers.reveal_pii"),  # a decorated function
    ],
)
def test_a_refused_page_is_one_log_line_with_user_path_and_permission(
    customer, captured_logs, method, path, permission
):
    client = Client()
    client.force_login(UserFactory.support(username="agent-403"))

    response = getattr(client, method)(path.format(id=customer.customer_id))

    assert response.status_code == 403
    assert "You do not have access to this" in response.content.decode()
    refusals = [line for line in captured_logs.plain.getvalue().splitlines() if "403" in line or "denied" in line]
    path = path.format(id=customer.customer_id)
    assert [line.split(" ", 2)[2] for line in refusals] == [
        f"WARNING bnpl_admin.staff.errors Permission denied: user=agent-403 path={path} permission={permission}",
        f"INFO bnpl.access {method.upper()} {path} 403 in " + refusals[-1].rsplit(" in ", 1)[1],
    ]
    assert "Traceback" not in captured_logs.plain.getvalue() + captured_logs.json.getvalue()
