"""The live health dashboard refreshes its panels by itself, without reloading the page."""

import re

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import expect

from bnpl_admin.audit.services import Actor
from bnpl_admin.webhooks.models import WebhookEvent
from bnpl_admin.webhooks.services import add_merchant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_dashboard_panels_update_by_themselves(live_server, page, screenshot, page_problems):
    user = User.objects.create_user(username="watcher", password="watch-pass-1")
    user.groups.add(Group.objects.get(name="support"))
    merchant, _ = add_merchant(code="acme", name="Acme", actor=Actor.system())

    page.goto(f"{live_server.url}/accounts/login/?next=/health/")
    page.get_by_label("Username").fill("watcher")
    page.get_by_label("Password").fill("watch-pass-1")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_title(re.compile("^Health"))
    backlog = page.locator(".check", has_text="Webhook backlog").locator(".check-value")
    expect(backlog).to_have_text("0")
    first_update = page.locator(".updated time").get_attribute("datetime")
    page.evaluate("window.__marker = 'same page'")
    screenshot(page, "health-before")

    # A webhook event arrives and waits: the live backlog check must show it within a poll or two.
    WebhookEvent.objects.create(
        merchant=merchant, webhook_id="msg_1", payload={"refund_id": "x", "status": "approved"}, refund_ref="x"
    )

    expect(backlog).to_have_text("1", timeout=12_000)
    assert page.locator(".updated time").get_attribute("datetime") != first_update
    assert page.evaluate("window.__marker") == "same page"  # refreshed in place, not reloaded
    screenshot(page, "health-after")
    assert page_problems == []
