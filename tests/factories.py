"""Factories for the domain models.

Customers and plans are built through the services, so that what a test sees is what production
writes: PII encrypted, masked and hashed; plans with their installments and audit event. Refunds,
merchants and staff users are plain rows, so that a test can put them in any state it needs.
"""

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from bnpl_admin.audit.services import Actor
from bnpl_admin.customers import encryption
from bnpl_admin.customers.models import Customer
from bnpl_admin.customers.services import prepare_customer
from bnpl_admin.plans.models import Plan
from bnpl_admin.plans.services import create_plan
from bnpl_admin.refunds.models import Refund
from bnpl_admin.staff.roles import RISK, SUPPORT
from bnpl_admin.webhooks.models import Merchant
from bnpl_admin.webhooks.services import new_webhook_secret

FACTORY_ACTOR = Actor.system("factory")


class UserFactory(factory.django.DjangoModelFactory):
    """A staff account; `UserFactory.support()` / `UserFactory.risk()` put it in a role group."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"agent{n:04d}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@bnpl.test")
    password = factory.django.Password("correct horse battery staple")
    is_staff = True

    @factory.post_generation
    def roles(user, create, extracted, **kwargs):
        """`roles=["support"]`: the group names to join (the groups are created by `migrate`)."""
        if not create or not extracted:
            return
        groups = list(Group.objects.filter(name__in=extracted))
        missing = set(extracted) - {group.name for group in groups}
        if missing:
            raise LookupError(f"Role groups missing (did migrate run?): {sorted(missing)}")
        user.groups.add(*groups)

    @classmethod
    def support(cls, **kwargs):
        return cls(roles=[SUPPORT], **kwargs)

    @classmethod
    def risk(cls, **kwargs):
        return cls(roles=[RISK], **kwargs)


class CustomerFactory(factory.django.DjangoModelFactory):
    """A customer written the way `customers.services` writes one (PII encrypted and masked).

    The raw PII passed in (or generated) is not stored; pass explicit values when a test needs them.
    """

    class Meta:
        model = Customer

    customer_id = factory.Sequence(lambda n: f"usr-{n:06d}")
    full_name = factory.Faker("name")
    phone_number = factory.Sequence(lambda n: f"+99890{n:07d}")
    passport_number = factory.Sequence(lambda n: f"AB{n:07d}")
    card_number = factory.Sequence(lambda n: f"8600{n:012d}")
    date_of_birth = datetime.date(1990, 5, 17)
    status = Customer.Status.NORMAL

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        return prepare_customer(**kwargs)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        customer = prepare_customer(**kwargs)
        customer.save()
        return customer


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    code = factory.Sequence(lambda n: f"merchant-{n}")
    name = factory.LazyAttribute(lambda merchant: merchant.code.replace("-", " ").title())
    webhook_secret_encrypted = factory.LazyFunction(lambda: encryption.encrypt(new_webhook_secret()))


class PlanFactory(factory.django.DjangoModelFactory):
    """An ACTIVE plan created by `plans.services.create_plan` (installments and audit included).

    `start_date` in the past gives installments already due: `check_overdue` will flip them.
    """

    class Meta:
        model = Plan

    customer = factory.SubFactory(CustomerFactory)
    total_amount = Decimal("500.00")
    installment_count = 3
    start_date = factory.LazyFunction(timezone.localdate)
    merchant = None
    actor = FACTORY_ACTOR

    @classmethod
    def _create(cls, model_class, *, customer, actor, **kwargs):
        return create_plan(customer_id=customer.customer_id, actor=actor, **kwargs)


class RefundFactory(factory.django.DjangoModelFactory):
    """A refund row in any state (`status=Refund.Status.APPROVED`…), written directly."""

    class Meta:
        model = Refund

    customer = factory.SubFactory(CustomerFactory)
    plan = None
    # As issue_refund sets it: the plan's merchant; pass merchant= for a refund without a plan.
    merchant = factory.LazyAttribute(lambda refund: refund.plan.merchant if refund.plan else None)
    transaction_id = factory.Sequence(lambda n: f"txn-{n:06d}")
    amount = Decimal("100.00")
    reason = "Returned goods"
    status = Refund.Status.PENDING
    # An APPROVED row made here took nothing off a schedule: all of it is owed to the customer.
    amount_applied = factory.LazyAttribute(lambda r: Decimal("0.00") if r.status == Refund.Status.APPROVED else None)
    amount_to_customer = factory.LazyAttribute(lambda r: r.amount if r.status == Refund.Status.APPROVED else None)
