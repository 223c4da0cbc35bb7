"""Fixtures for the webhook tests: merchants with known secrets, refunds, tasks run in-process."""

from decimal import Decimal

import pytest
from django.test import Client
from django_q.conf import Conf

from tests.factories import CustomerFactory, RefundFactory, UserFactory
from tests.webhooks import merchant_with_secret, send


@pytest.fixture
def shop(db):
    """The merchant "shop" and its secret."""
    return merchant_with_secret("shop", name="Shop Ltd")


@pytest.fixture
def other_shop(db):
    return merchant_with_secret("other-shop", name="Other Shop")


@pytest.fixture
def refund(shop):
    """A PENDING refund of usr-wh-1, transaction TXN-1, not tied to any plan, issued for "shop"."""
    return RefundFactory(
        customer=CustomerFactory(customer_id="usr-wh-1"),
        transaction_id="TXN-1",
        amount=Decimal("120.00"),
        merchant=shop.merchant,
    )


@pytest.fixture
def run_tasks_inline(settings, monkeypatch):
    """django-q2 runs `async_task` in the calling process (sync mode).

    `django_q.conf.Conf` copies Q_CLUSTER once, at import: changing the setting alone does not
    reach it, so Conf.SYNC is patched as well.
    """
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def deliver(client, run_tasks_inline, django_capture_on_commit_callbacks):
    """`deliver(shop, payload, **signing)`: POST a signed webhook and run what it queues on commit."""

    def post(shop, payload, *, browser=None, **signing):
        with django_capture_on_commit_callbacks(execute=True):
            return send(browser or client, shop, payload, **signing)

    return post


def _signed_in(user) -> Client:
    browser = Client()
    browser.force_login(user)
    browser.user = user
    return browser


@pytest.fixture
def support_client(db):
    return _signed_in(UserFactory.support())


@pytest.fixture
def risk_client(db):
    return _signed_in(UserFactory.risk())


@pytest.fixture
def roleless_client(db):
    return _signed_in(UserFactory(is_staff=False))
