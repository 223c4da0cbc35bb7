"""refunds 0002: a refund issued before refunds had a merchant gets its plan's, and only that."""

import importlib

import pytest
from django.apps import apps

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
