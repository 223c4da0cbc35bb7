"""The management commands of the contract, run as a user would run them."""

import datetime
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Min
from django.utils import timezone
from rest_framework.authtoken.models import Token
from standardwebhooks import Webhook

from bnpl_admin.customers.models import Customer
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.refunds.models import Refund
from bnpl_admin.webhooks.models import Merchant, WebhookEvent

pytestmark = pytest.mark.django_db
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def run(*args) -> list[str]:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip().splitlines()


def test_seed_demo_builds_a_realistic_data_set():
    lines = run("seed_demo", "--customers", "300", "--seed", "7")

    assert Customer.objects.count() == 300
    assert Plan.objects.count() >= 300
    assert Installment.objects.filter(status=Installment.Status.OVERDUE).exists()
    assert Customer.objects.filter(status=Customer.Status.DEBT_USER).exists()
    assert Installment.objects.filter(status=Installment.Status.PAID).exists()
    assert set(Refund.objects.values_list("status", flat=True)) == set(Refund.Status.values)
    assert Merchant.objects.count() == 3
    customer = Customer.objects.order_by("customer_id").first()
    assert customer.customer_id == "usr-001"
    assert customer.phone_masked.startswith("+998") and "****" in customer.phone_masked
    assert any("support / support-demo" in line for line in lines)
    assert any("risk / risk-demo" in line for line in lines)
    assert any("admin / admin-demo" in line for line in lines)


def test_seed_demo_customers_joined_before_their_first_plan():
    run("seed_demo", "--customers", "150", "--seed", "3")

    first_plan = dict(
        Plan.objects.values("customer_id").annotate(first=Min("start_date")).values_list("customer_id", "first")
    )
    joined = dict(Customer.objects.values_list("pk", "created_at"))
    assert set(first_plan) == set(joined)
    for pk, created_at in joined.items():
        days = (first_plan[pk] - timezone.localdate(created_at)).days
        assert 1 <= days <= 61, pk


def test_seed_demo_prints_a_webhook_command_naming_the_refunds_own_merchant():
    lines = run("seed_demo", "--customers", "400")

    command = lines[lines.index("Try the merchant webhook on an open refund:") + 1].split()
    assert command[:3] == [".venv/bin/python", "manage.py", "send_test_webhook"]
    merchant, transaction_id, status = command[3:]
    refund = Refund.objects.get(transaction_id=transaction_id)
    assert (refund.merchant.code, status) == (merchant, "approved")
    assert refund.status in (Refund.Status.PENDING, Refund.Status.PROCESSING)
    assert not WebhookEvent.objects.filter(refund_ref=transaction_id).exists()
    assert run("seed_demo", "--if-empty")[-1].split() == command


def test_seed_demo_refunds_were_issued_before_they_were_processed():
    run("seed_demo", "--customers", "150")

    processed = Refund.objects.exclude(processed_at=None)
    assert processed.exists()
    assert all(refund.created_at < refund.processed_at for refund in processed)


def test_seed_demo_has_webhook_events_of_every_status():
    run("seed_demo", "--customers", "150")

    events = WebhookEvent.objects.all()
    assert set(events.values_list("status", flat=True)) == set(WebhookEvent.Status.values)
    processed = events.filter(status=WebhookEvent.Status.PROCESSED, requested_status="approved").get()
    assert processed.refund.status == Refund.Status.APPROVED and processed.refund.amount_applied is not None
    assert events.get(status=WebhookEvent.Status.IGNORED).refund == processed.refund


def test_seed_demo_creates_staff_accounts_in_their_roles():
    run("seed_demo", "--customers", "5")

    support, risk, admin = (User.objects.get(username=name) for name in ("support", "risk", "admin"))
    assert support.check_password("support-demo") and list(support.groups.values_list("name", flat=True)) == ["support"]
    assert risk.check_password("risk-demo") and list(risk.groups.values_list("name", flat=True)) == ["risk"]
    assert admin.is_superuser and admin.check_password("admin-demo")
    assert support.has_perm("customers.view_customer") and not support.has_perm("customers.reveal_pii")
    assert risk.has_perm("customers.reveal_pii")


def test_seed_demo_is_consistent_with_the_overdue_rule():
    run("seed_demo", "--customers", "200")

    debt_ids = set(Customer.objects.filter(status=Customer.Status.DEBT_USER).values_list("pk", flat=True))
    overdue_owner_ids = set(
        Installment.objects.filter(status=Installment.Status.OVERDUE).values_list("customer_id", flat=True)
    )
    assert debt_ids == overdue_owner_ids
    for plan in Plan.objects.filter(status=Plan.Status.COMPLETED).prefetch_related("installments"):
        assert {i.status for i in plan.installments.all()} == {Installment.Status.PAID}
    for plan in Plan.objects.prefetch_related("installments")[:50]:
        assert sum(i.amount_due for i in plan.installments.all()) == plan.total_amount


def test_seed_demo_stores_no_raw_personal_data():
    run("seed_demo", "--customers", "20")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT phone_encrypted, phone_masked, passport_encrypted, card_encrypted FROM customers_customer"
        )
        rows = cursor.fetchall()
    for phone_token, phone_masked, passport_token, card_token in rows:
        assert not phone_token.startswith("+998")
        assert not passport_token[:2].isalpha() or passport_token.startswith("gAAAA")
        assert card_token.startswith("gAAAA")
        assert "****" in phone_masked


def test_seed_demo_if_empty_leaves_existing_data_alone():
    run("seed_demo", "--customers", "10")
    lines = run("seed_demo", "--customers", "10", "--if-empty")

    assert Customer.objects.count() == 10
    assert "already present" in lines[0]


def test_seed_demo_refuses_production(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        run("seed_demo", "--customers", "1")
    assert not Customer.objects.exists()


def test_check_overdue_prints_counts_and_is_idempotent():
    run("seed_demo", "--customers", "50")
    as_of = (datetime.date.today() + datetime.timedelta(days=40)).isoformat()
    due = Installment.objects.filter(status=Installment.Status.UPCOMING, due_date__lt=as_of).count()
    assert due > 0

    first = run("check_overdue", "--as-of", as_of)
    second = run("check_overdue", "--as-of", as_of)

    assert first[0] == f"As of {as_of}:"
    assert first[1].split(":")[1].strip() == str(due)
    assert second[1].split(":")[1].strip() == "0"
    assert second[2].split(":")[1].strip() == "0"


@pytest.mark.parametrize("bad", ["2026-13-01", "tomorrow", "01/02/2026"])
def test_check_overdue_rejects_a_bad_date(bad):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        run("check_overdue", "--as-of", bad)


def test_add_merchant_prints_a_working_secret_last():
    lines = run("add_merchant", "acme", "--name", "Acme Store")

    secret = lines[-1]
    assert secret.startswith("whsec_")
    merchant = Merchant.objects.get(code="acme")
    assert merchant.name == "Acme Store"
    assert secret not in merchant.webhook_secret_encrypted
    body = '{"refund_id": "x", "status": "approved"}'
    now = datetime.datetime.now(datetime.UTC)
    signature = Webhook(secret).sign("msg_1", now, body)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature}
    assert Webhook(secret).verify(body, headers) == {"refund_id": "x", "status": "approved"}


def test_add_merchant_refuses_duplicates_and_bad_codes():
    run("add_merchant", "acme", "--name", "Acme")
    with pytest.raises(CommandError, match="already exists"):
        run("add_merchant", "acme", "--name", "Other")
    with pytest.raises(CommandError, match="slug"):
        run("add_merchant", "Not A Slug", "--name", "Other")
    assert Merchant.objects.count() == 1


def test_issue_api_token_prints_the_token_last_and_replaces_the_old_one():
    user = User.objects.create_user("agent", password="x")
    first = run("issue_api_token", "agent")[-1]
    second = run("issue_api_token", "agent")[-1]

    assert Token.objects.get(user=user).key == second
    assert first != second


def test_issue_api_token_for_an_unknown_user_fails():
    with pytest.raises(CommandError, match="No user"):
        run("issue_api_token", "nobody")


def test_rotate_encryption_keys_reencrypts_under_the_new_key(settings):
    from cryptography.fernet import Fernet

    from bnpl_admin.audit.services import Actor
    from bnpl_admin.customers.services import reveal_pii

    run("seed_demo", "--customers", "3")
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    before = reveal_pii(customer_id="usr-001", field="card_number", actor=Actor.system())

    lines = run("rotate_encryption_keys")
    settings.FIELD_ENCRYPTION_KEYS = [new_key]

    assert "3 customers" in lines[0]
    assert reveal_pii(customer_id="usr-001", field="card_number", actor=Actor.system()) == before


def _django_check(env_overrides: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DEBUG")}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_production_mode_refuses_to_start_without_secrets():
    result = _django_check({"DEBUG": "0"})

    assert result.returncode != 0
    assert "SECRET_KEY and FIELD_ENCRYPTION_KEYS" in result.stderr


def test_production_mode_starts_with_secrets():
    result = _django_check(
        {
            "DEBUG": "0",
            "SECRET_KEY": "x" * 50,
            "FIELD_ENCRYPTION_KEYS": "Idy7zE__t0PmivJlJkYFQ2H4Ldv7myKQj-yA-ePIq3o=",
            "ALLOWED_HOSTS": "example.com",
        }
    )

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("seed", ["42", "2"], ids=["same-seed", "another-seed"])
def test_seed_demo_refuses_a_database_that_holds_customers_and_writes_nothing(seed):
    run("seed_demo", "--customers", "10")
    support = User.objects.get(username="support")
    support.set_password("changed-since-seeding")
    support.save()
    counts = [model.objects.count() for model in (Customer, Plan, Installment, Refund, Merchant)]

    with pytest.raises(CommandError) as refused:
        run("seed_demo", "--customers", "10", "--seed", seed)

    assert str(refused.value) == (
        "The database already holds 10 customers: seed_demo fills an empty database only. "
        "Run it with --if-empty to skip seeding when data exists, or on an empty database."
    )
    assert [model.objects.count() for model in (Customer, Plan, Installment, Refund, Merchant)] == counts
    assert User.objects.get(username="support").check_password("changed-since-seeding")  # not reset either
