"""Smoke test: sign in as a support agent and see the customer list with PII masked."""

import datetime
import re

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import expect

from bnpl_admin.audit.services import Actor
from bnpl_admin.customers.services import create_customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "e2e-support-pass"

CUSTOMERS = [
    {
        "customer_id": "usr-e2e-001",
        "full_name": "Aziza Karimova",
        "phone_number": "+998901234567",
        "passport_number": "AA1234567",
        "card_number": "4111111111111111",
        "date_of_birth": datetime.date(1990, 5, 17),
        "masked": ("+998****4567", "AA*******", "4111 **** **** 1111"),
    },
    {
        "customer_id": "usr-e2e-002",
        "full_name": "Bekzod Tursunov",
        "phone_number": "+998935550199",
        "passport_number": "AB7654321",
        "card_number": "5555555555554444",
        "date_of_birth": datetime.date(1985, 11, 2),
        "masked": ("+998****0199", "AB*******", "5555 **** **** 4444"),
    },
]


@pytest.fixture
def support_user():
    user = User.objects.create_user(username="agent", password=PASSWORD)
    user.groups.add(Group.objects.get(name="support"))  # created by migrate
    return user


@pytest.fixture
def customers():
    fields = ("customer_id", "full_name", "phone_number", "passport_number", "card_number", "date_of_birth")
    for data in CUSTOMERS:
        create_customer(**{key: data[key] for key in fields}, actor=Actor.system())
    return CUSTOMERS


def _raw_values(data):
    card = data["card_number"]
    spaced_card = " ".join(card[i : i + 4] for i in range(0, len(card), 4))
    return [data["phone_number"], data["phone_number"].lstrip("+"), data["passport_number"], card, spaced_card]


def test_support_signs_in_and_sees_masked_customers(
    page, live_server, support_user, customers, screenshot, page_problems
):
    page.goto(f"{live_server.url}/")

    # Not signed in: redirected to the login page, which keeps where we were going.
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "login")

    page.get_by_label("Username").fill("agent")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{live_server.url}/customers/")
    expect(page.get_by_role("heading", name="Customers")).to_be_visible()

    for data in customers:
        row = page.get_by_role("row").filter(has_text=data["customer_id"])
        expect(row).to_have_count(1)
        expect(row).to_contain_text(data["full_name"])
        for masked in data["masked"]:
            expect(row).to_contain_text(masked)
    screenshot(page, "customers")

    html = page.content()
    for data in customers:
        for raw in _raw_values(data):
            assert raw not in html, f"raw PII {raw[:3]}… of {data['customer_id']} leaked into the customer list"

    # The stylesheet and htmx loaded, nothing 404'd, no script error.
    assert page.evaluate("typeof window.htmx") == "object", "htmx did not load"
    assert page_problems == []
