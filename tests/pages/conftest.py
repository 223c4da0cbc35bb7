"""Signed-in clients for each role, and a customer whose raw PII the tests know."""

import datetime

import pytest
from django.test import Client

from bnpl_admin.audit.services import Actor
from bnpl_admin.customers.services import create_customer
from tests.factories import UserFactory

RAW_PHONE = "+998901234567"
RAW_CARD = "4111111111111111"
RAW_PASSPORT = "AA1234567"

ROLES = ("anonymous", "nobody", "support", "risk", "admin")


def _user_for(role: str):
    if role == "nobody":
        return UserFactory(is_staff=False)
    if role == "support":
        return UserFactory.support()
    if role == "risk":
        return UserFactory.risk()
    if role == "admin":
        return UserFactory(is_superuser=True)
    raise ValueError(role)


@pytest.fixture
def client_for(db):
    """`client_for("support")`: a fresh client signed in with that role ("anonymous": not signed in)."""

    def make(role: str) -> Client:
        browser = Client()
        if role != "anonymous":
            user = _user_for(role)
            browser.force_login(user)
            browser.user = user
        return browser

    return make


@pytest.fixture
def support_client(client_for):
    return client_for("support")


@pytest.fixture
def risk_client(client_for):
    return client_for("risk")


@pytest.fixture
def superuser_client(client_for):
    return client_for("admin")


@pytest.fixture
def aziz(db):
    """usr-001, Aziz Karimov, with known raw phone, card and passport."""
    return create_customer(
        customer_id="usr-001",
        full_name="Aziz Karimov",
        phone_number=RAW_PHONE,
        passport_number=RAW_PASSPORT,
        card_number=RAW_CARD,
        date_of_birth=datetime.date(1990, 5, 17),
        actor=Actor.system("test"),
    )
