"""The merchant commands: add_merchant, rotate_merchant_secret, send_test_webhook."""

import datetime
import io
import json
import socket

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.refunds.models import Refund
from bnpl_admin.webhooks.models import Merchant, WebhookEvent
from bnpl_admin.webhooks.services import merchant_secret, valid_secrets
from tests.factories import RefundFactory
from tests.webhooks import SignedMerchant, merchant_with_secret, send

pytestmark = pytest.mark.django_db


def run(*args, **options) -> list[str]:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue().strip().splitlines()


def free_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- add_merchant ------------------------------------------------------------------------------


def test_add_merchant_prints_the_secret_last_and_it_signs_webhooks(client, refund):
    lines = run("add_merchant", "acme", "--name", "Acme Store")

    secret = lines[-1]
    assert secret.startswith("whsec_")
    merchant = Merchant.objects.get(code="acme")
    assert merchant_secret(merchant) == secret
    assert secret not in merchant.webhook_secret_encrypted
    assert all(secret not in line for line in lines[:-1])
    acme = SignedMerchant(merchant=merchant, secret=secret)
    assert send(client, acme, {"refund_id": "TXN-1", "status": "approved"}).status_code == 202
    [audit] = AuditEvent.objects.filter(action="merchant.created")
    assert audit.target_id == "acme"
    assert secret not in json.dumps(audit.data)


def test_each_merchant_gets_its_own_secret():
    first = run("add_merchant", "one", "--name", "One")[-1]
    second = run("add_merchant", "two", "--name", "Two")[-1]

    assert first != second


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Not A Slug", "--name", "X"], "slug"),
        (["", "--name", "X"], "slug"),
        (["a" * 65, "--name", "X"], "slug .* of at most 64 characters"),
        (["acme", "--name", "   "], "name must be 1 to 200 characters"),
        (["acme", "--name", "n" * 201], "name must be 1 to 200 characters"),
        (["acme", "--name", "Acme\x00"], "name must be 1 to 200 characters"),
    ],
)
def test_add_merchant_refuses_bad_input(args, message):
    with pytest.raises(CommandError, match=message):
        run("add_merchant", *args)

    assert not Merchant.objects.exists()


def test_add_merchant_refuses_an_existing_code_and_keeps_its_secret(shop):
    with pytest.raises(CommandError, match="already exists"):
        run("add_merchant", "shop", "--name", "Impostor")

    merchant = Merchant.objects.get(code="shop")
    assert (merchant.name, merchant_secret(merchant)) == ("Shop Ltd", shop.secret)


# --- rotate_merchant_secret ----------------------------------------------------------------------


def test_rotation_prints_a_new_secret_last_and_the_old_one_works_during_the_grace(client, shop, refund):
    lines = run("rotate_merchant_secret", "shop")

    new_secret = lines[-1]
    assert new_secret.startswith("whsec_") and new_secret != shop.secret
    merchant = Merchant.objects.get(code="shop")
    assert merchant_secret(merchant) == new_secret
    assert valid_secrets(merchant) == [new_secret, shop.secret]
    expires = merchant.previous_secret_expires_at
    assert abs(expires - (timezone.now() + datetime.timedelta(hours=24))) < datetime.timedelta(minutes=1)
    assert send(client, shop, {"refund_id": "TXN-1", "status": "processing"}).status_code == 202
    assert send(client, shop, {"refund_id": "TXN-1", "status": "approved"}, secret=new_secret).status_code == 202
    assert AuditEvent.objects.filter(action="merchant.secret_rotated", target_id="shop").count() == 1


def test_after_the_grace_only_the_new_secret_works(shop):
    new_secret = run("rotate_merchant_secret", "shop", "--grace-hours", "1")[-1]
    merchant = Merchant.objects.get(code="shop")

    later = timezone.now() + datetime.timedelta(hours=1, seconds=1)
    assert valid_secrets(merchant, now=later) == [new_secret]


def test_a_zero_grace_retires_the_old_secret_at_once(client, shop, refund):
    new_secret = run("rotate_merchant_secret", "shop", "--grace-hours", "0")[-1]

    assert send(client, shop, {"refund_id": "TXN-1", "status": "approved"}).status_code == 401
    assert send(client, shop, {"refund_id": "TXN-1", "status": "approved"}, secret=new_secret).status_code == 202


def test_rotating_an_unknown_merchant_is_an_error():
    with pytest.raises(CommandError, match="No merchant 'ghost'"):
        run("rotate_merchant_secret", "ghost")


@pytest.mark.parametrize("hours", ["-1", "nan", "inf", "1e308"])
def test_a_grace_that_is_not_a_time_to_come_is_refused(shop, hours):
    """NaN was taken as a grace and inf or 1e308 ended in a traceback (no date that far)."""
    with pytest.raises(CommandError, match="zero or more"):
        run("rotate_merchant_secret", "shop", "--grace-hours", hours)

    assert valid_secrets(Merchant.objects.get(code="shop")) == [shop.secret]


# --- send_test_webhook -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_send_test_webhook_posts_a_signed_webhook_to_a_running_server(live_server):
    shop = merchant_with_secret("shop")
    refund = RefundFactory(transaction_id="TXN-LIVE", merchant=shop.merchant)
    url = f"{live_server.url}/webhook/refund-status/"

    lines = run("send_test_webhook", "shop", "TXN-LIVE", "approved", "--url", url, "--webhook-id", "msg_live")

    assert lines[0] == f"POST {url} webhook-id=msg_live"
    assert lines[1] == "HTTP 202"
    answer = json.loads("\n".join(lines[2:]))
    event = WebhookEvent.objects.get()
    assert answer == {
        "message": "Webhook received",
        "event_id": event.pk,
        "refund_id": "TXN-LIVE",
        "status": "approved",
    }
    assert (event.merchant.code, event.webhook_id) == ("shop", "msg_live")

    again = run("send_test_webhook", "shop", "TXN-LIVE", "approved", "--url", url, "--webhook-id", "msg_live")
    assert again[1] == "HTTP 200"
    assert json.loads("\n".join(again[2:]))["message"] == "duplicate"

    forged = run("send_test_webhook", "shop", "TXN-LIVE", "rejected", "--url", url, "--secret", "whsec_" + "A" * 32)
    assert forged[1] == "HTTP 401"
    assert WebhookEvent.objects.count() == 1
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING  # processing is the cluster's job, not the request's
    assert shop.secret not in "\n".join(lines + again + forged)


def test_send_test_webhook_for_an_unknown_merchant_is_an_error():
    with pytest.raises(CommandError, match="No merchant 'ghost'"):
        run("send_test_webhook", "ghost", "TXN-1", "approved", "--url", f"http://127.0.0.1:{free_port()}/")


@pytest.mark.parametrize("url", ["notaurl", "file:///etc/passwd", "ftp://127.0.0.1/x", "http://"])
def test_send_test_webhook_to_anything_but_a_web_address_is_an_error(shop, url):
    """ "notaurl" ended in a traceback; a file:// address is no place to send a webhook."""
    with pytest.raises(CommandError, match="--url must be an http:// or https:// address"):
        run("send_test_webhook", "shop", "TXN-1", "approved", "--url", url)


def test_send_test_webhook_to_an_unreachable_url_is_an_error(shop):
    url = f"http://127.0.0.1:{free_port()}/webhook/refund-status/"

    with pytest.raises(CommandError, match="Could not reach"):
        run("send_test_webhook", "shop", "TXN-1", "approved", "--url", url)
