"""Read queries about plans: a plan, or a customer's plans, each with its installments in order."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from bnpl_admin.plans.models import Installment, Plan

# What the profile and the API show of a plan's installments: all of them, by number.
INSTALLMENTS_IN_ORDER = Prefetch(
    "installments", queryset=Installment.objects.order_by("number"), to_attr="installments_in_order"
)


def _with_installments(plans: QuerySet[Plan]) -> QuerySet[Plan]:
    return plans.select_related("merchant").prefetch_related(INSTALLMENTS_IN_ORDER)


def plans_of(customer) -> list[Plan]:
    """The customer's plans, newest first, each with its merchant and `installments_in_order`."""
    return list(_with_installments(customer.plans.order_by("-created_at", "id")))


def plan_with_installments(plan_id) -> Plan:
    """One plan with its customer, merchant and `installments_in_order`; Plan.DoesNotExist if none."""
    return _with_installments(Plan.objects.select_related("customer")).get(pk=plan_id)
