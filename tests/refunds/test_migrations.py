"""refunds 0002: a refund issued before refunds had a merchant gets its plan's, and only that;
0006: a refund staff cancelled gets back the reason it was issued with."""

import importlib

import pytest
from django.apps import apps

from bnpl_admin.audit.services import Actor
from bnpl_admin.refunds import services
from bnpl_admin.refunds.models import Refund
from tests.factories import CustomerFactory, MerchantFactory, PlanFactory, RefundFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("bnpl_admin.refunds.migrations.0002_refund_merchant")


def test_existing_refunds_take_their_plans_merchant_and_the_others_none():
    shop = MerchantFactory(code="shop")
    on_shop_plan = PlanFactory(merchant=shop)
    on_plain_plan = PlanFactory(merchant=None)
    refunds = {
        "shop plan": RefundFactory(customer=on_shop_plan.customer, plan=on_shop_plan),
        "plan without merchant": RefundFactory(customer=on_plain_plan.customer, plan=on_plain_plan),
        "no plan": RefundFactory(customer=CustomerFactory()),
    }
    Refund.objects.update(merchant=None)  # as the rows were before the field existed

    migration.merchant_from_plan(apps, schema_editor=None)

    merchants = {name: Refund.objects.get(pk=refund.pk).merchant for name, refund in refunds.items()}
    assert merchants == {"shop plan": shop, "plan without merchant": None, "no plan": None}


cancelled_migration = importlib.import_module("bnpl_admin.refunds.migrations.0006_refund_cancelled_by_staff")


def test_refunds_cancelled_before_get_back_the_reason_they_were_issued_with():
    customer = CustomerFactory()
    cancelled = RefundFactory(customer=customer, reason="Item arrived broken")
    without_audit = RefundFactory(customer=customer, reason="Wrong size")
    rejected_by_merchant = RefundFactory(customer=customer, reason="Changed my mind")
    services.cancel_refund(refund_id=cancelled.pk, actor=Actor.system("test"))
    Refund.objects.filter(pk=without_audit.pk).update(status="REJECTED")  # no audit row found for it
    Refund.objects.filter(pk=rejected_by_merchant.pk).update(status="REJECTED", status_detail="Out of policy")
    # As cancel_refund left them before: the reason overwritten, no mark.
    Refund.objects.filter(pk__in=[cancelled.pk, without_audit.pk]).update(
        reason="Cancelled by staff", cancelled_by_staff=False
    )

    cancelled_migration.restore_cancelled_reasons(apps, schema_editor=None)

    rows = {r.pk: (r.reason, r.cancelled_by_staff) for r in Refund.objects.all()}
    assert rows == {
        cancelled.pk: ("Item arrived broken", True),
        without_audit.pk: ("", True),
        rejected_by_merchant.pk: ("Changed my mind", False),
    }
