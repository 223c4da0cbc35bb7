"""plans.services: create_plan (rule 1), check_overdue (rule 2); ledger.pay_installments (rules 3, 6)."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers.errors import CustomerNotFound
from bnpl_admin.customers.models import Customer
from bnpl_admin.customers.services import prepare_customer
from bnpl_admin.plans.errors import DebtUserError, InvalidPlan, PaymentError
from bnpl_admin.plans.ledger import pay_installments
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.plans.services import check_overdue, create_plan
from tests.factories import CustomerFactory, MerchantFactory, PlanFactory

pytestmark = pytest.mark.django_db

D = Decimal
START = datetime.date(2025, 1, 10)  # installments due Feb 10, Mar 10, Apr 10
AS_OF = datetime.date(2025, 3, 10)  # Feb 10 is overdue, Mar 10 is due today: not yet overdue
ACTOR = Actor.system("test")


def _statuses(plan) -> list[str]:
    return list(plan.installments.order_by("number").values_list("status", flat=True))


def _overdue_customer(*, recent: bool = False, **plan_kwargs):
    """A DEBT_USER whose plan's first installment is OVERDUE (as check_overdue leaves it).

    `recent`: the plan started 45 days ago, so the later installments are still in the future
    (record_payment counts an UPCOMING installment already past due as overdue).
    """
    if recent:
        plan = PlanFactory(start_date=timezone.localdate() - datetime.timedelta(days=45), **plan_kwargs)
        check_overdue()
    else:
        plan = PlanFactory(start_date=START, **plan_kwargs)
        check_overdue(as_of=AS_OF)
    plan.customer.refresh_from_db()
    assert plan.customer.status == Customer.Status.DEBT_USER
    return plan.customer, plan


class TestCreatePlan:
    def test_creates_an_active_plan_with_its_installments(self, actor, customer, audit_events):
        plan = create_plan(
            customer_id=customer.customer_id,
            total_amount=D("500.00"),
            actor=actor,
            start_date=datetime.date(2025, 1, 31),
        )

        plan = Plan.objects.get(pk=plan.pk)
        assert plan.customer == customer
        assert plan.status == Plan.Status.ACTIVE
        assert plan.total_amount == D("500.00")
        assert plan.installment_count == 3
        assert plan.created_by == actor.user
        assert list(plan.installments.order_by("number").values_list("number", "amount_due", "due_date", "status")) == [
            (1, D("166.67"), datetime.date(2025, 2, 28), "UPCOMING"),
            (2, D("166.67"), datetime.date(2025, 3, 31), "UPCOMING"),
            (3, D("166.66"), datetime.date(2025, 4, 30), "UPCOMING"),
        ]
        assert set(plan.installments.values_list("customer_id", flat=True)) == {customer.pk}
        assert not plan.installments.filter(paid_at__isnull=False).exists()
        [event] = audit_events("plan.created")
        assert (event.target_type, event.target_id, event.customer_ref) == ("plan", str(plan.pk), customer.customer_id)
        assert event.actor_user == actor.user
        assert event.data == {"total_amount": "500.00", "installment_count": 3, "start_date": "2025-01-31"}

    @pytest.mark.parametrize("count", [2, 12, 24])
    def test_any_count_from_2_to_24_is_accepted(self, actor, customer, count):
        plan = create_plan(
            customer_id=customer.customer_id, total_amount="1000.00", installment_count=count, actor=actor
        )

        assert plan.installments.count() == count
        assert sum(plan.installments.values_list("amount_due", flat=True)) == D("1000.00")

    def test_the_start_date_defaults_to_today(self, actor, customer):
        plan = create_plan(customer_id=customer.customer_id, total_amount="90.00", actor=actor)

        assert plan.start_date == timezone.localdate()

    def test_a_merchant_may_be_attached(self, actor, customer):
        merchant = MerchantFactory()

        plan = create_plan(customer_id=customer.customer_id, total_amount="90.00", actor=actor, merchant=merchant)

        assert Plan.objects.get(pk=plan.pk).merchant == merchant

    def test_debt_user_cannot_get_a_plan(self, actor):
        customer = CustomerFactory(status=Customer.Status.DEBT_USER)

        with pytest.raises(DebtUserError) as refused:
            create_plan(customer_id=customer.customer_id, total_amount=D("500.00"), actor=actor)

        assert str(refused.value) == "Users with DEBT_USER status cannot create new BNPL plans"
        assert refused.value.customer_id == customer.customer_id
        assert not Plan.objects.exists()
        assert not Installment.objects.exists()
        assert not AuditEvent.objects.filter(action="plan.created").exists()

    def test_a_customer_who_fell_into_debt_is_refused(self, actor):
        customer, _ = _overdue_customer()
        plans_before = Plan.objects.count()
        installments_before = Installment.objects.count()

        with pytest.raises(DebtUserError):
            create_plan(customer_id=customer.customer_id, total_amount="100.00", actor=actor)

        assert Plan.objects.count() == plans_before
        assert Installment.objects.count() == installments_before

    @pytest.mark.parametrize(
        "amount",
        [
            0,
            "0",
            "0.00",
            "-100.00",
            D("-0.01"),
            "100.005",
            D("0.001"),
            "abc",
            "",
            "  ",
            None,
            "NaN",
            "sNaN",
            "Infinity",
            "-Infinity",
            D("Infinity"),
            "1e400",
            "1000000000000.00",
            "999999999999999999999",
            100.5,
            True,
            [],
        ],
    )
    def test_invalid_amounts_are_refused_and_nothing_is_created(self, actor, customer, amount):
        with pytest.raises(InvalidPlan):
            create_plan(customer_id=customer.customer_id, total_amount=amount, actor=actor)

        assert not Plan.objects.exists()
        assert not Installment.objects.exists()
        assert not AuditEvent.objects.exists()

    @pytest.mark.parametrize("count", [1, 0, -3, 25, 100, "3", 3.0, True, None])
    def test_invalid_counts_are_refused_and_nothing_is_created(self, actor, customer, count):
        with pytest.raises(InvalidPlan):
            create_plan(customer_id=customer.customer_id, total_amount="300.00", installment_count=count, actor=actor)

        assert not Plan.objects.exists()
        assert not Installment.objects.exists()

    def test_an_unknown_customer_is_not_found(self, actor):
        with pytest.raises(CustomerNotFound, match="User usr-nobody not found"):
            create_plan(customer_id="usr-nobody", total_amount="300.00", actor=actor)

        assert not Plan.objects.exists()

    @pytest.mark.parametrize(
        ("amount", "stored"), [("1000", D("1000.00")), (" 99.9 ", D("99.90")), (D("5.50"), D("5.50"))]
    )
    def test_amounts_are_stored_with_two_decimals(self, actor, customer, amount, stored):
        plan = create_plan(customer_id=customer.customer_id, total_amount=amount, actor=actor)

        assert Plan.objects.get(pk=plan.pk).total_amount == stored


class TestRecordPayment:
    def test_pays_the_installments_with_one_audited_payment(self, actor, audit_events):
        plan = PlanFactory()
        first, second, _ = plan.installments.order_by("number")

        result = pay_installments(installment_ids=[first.pk, second.pk], actor=actor)

        assert result.paid_installments == 2
        assert result.customer_status == Customer.Status.NORMAL
        assert Plan.objects.get(pk=plan.pk).status == Plan.Status.ACTIVE
        assert _statuses(plan) == ["PAID", "PAID", "UPCOMING"]
        assert plan.installments.filter(status="PAID", paid_at__isnull=False).count() == 2
        [event] = audit_events("payment.recorded")
        assert event.target_id == str(result.payment.pk)
        assert event.data["amount"] == "333.34"
        assert [(a["installment_id"], a["amount"]) for a in event.data["allocations"]] == [
            (first.pk, "166.67"),
            (second.pk, "166.67"),
        ]
        assert event.actor_user == actor.user

    def test_ids_may_be_given_as_numeric_strings_and_duplicates_count_once(self, actor):
        plan = PlanFactory()
        first = plan.installments.get(number=1)

        result = pay_installments(installment_ids=[str(first.pk), first.pk], actor=actor)

        assert result.paid_installments == 1
        assert _statuses(plan) == ["PAID", "UPCOMING", "UPCOMING"]

    def test_one_bad_id_means_nothing_is_paid(self, actor):
        plan = PlanFactory()
        ids = list(plan.installments.values_list("pk", flat=True))

        with pytest.raises(PaymentError, match="999999"):
            pay_installments(installment_ids=[*ids, 999999], actor=actor)

        assert _statuses(plan) == ["UPCOMING", "UPCOMING", "UPCOMING"]
        assert not plan.installments.filter(paid_at__isnull=False).exists()
        assert not AuditEvent.objects.filter(action="payment.recorded").exists()

    def test_another_customers_installment_is_refused(self, actor):
        mine = PlanFactory()
        theirs = PlanFactory()
        their_installment = theirs.installments.get(number=1)

        with pytest.raises(PaymentError):
            pay_installments(
                installment_ids=[mine.installments.get(number=1).pk, their_installment.pk],
                customer_id=mine.customer.customer_id,
                actor=actor,
            )

        assert not Installment.objects.filter(status="PAID").exists()

    def test_only_the_named_customers_installments_can_be_paid(self, actor):
        theirs = PlanFactory()
        me = CustomerFactory()

        with pytest.raises(PaymentError):
            pay_installments(
                installment_ids=[theirs.installments.get(number=1).pk], customer_id=me.customer_id, actor=actor
            )

        assert _statuses(theirs) == ["UPCOMING", "UPCOMING", "UPCOMING"]

    def test_installments_of_two_customers_cannot_be_paid_together(self, actor):
        a, b = PlanFactory(), PlanFactory()

        with pytest.raises(PaymentError, match="same user"):
            pay_installments(installment_ids=[a.installments.first().pk, b.installments.first().pk], actor=actor)

        assert not Installment.objects.filter(status="PAID").exists()

    def test_an_installment_already_paid_is_refused(self, actor):
        plan = PlanFactory()
        first, second, _ = plan.installments.order_by("number")
        pay_installments(installment_ids=[first.pk], actor=actor)
        paid_at = Installment.objects.get(pk=first.pk).paid_at

        with pytest.raises(PaymentError):
            pay_installments(installment_ids=[first.pk, second.pk], actor=actor)

        assert _statuses(plan) == ["PAID", "UPCOMING", "UPCOMING"]
        assert Installment.objects.get(pk=first.pk).paid_at == paid_at
        assert len(AuditEvent.objects.filter(action="payment.recorded")) == 1

    @pytest.mark.parametrize("ids", [[], ["abc"], [None], None, [[1]]])
    def test_malformed_id_lists_are_refused(self, actor, ids):
        PlanFactory()

        with pytest.raises(PaymentError):
            pay_installments(installment_ids=ids, actor=actor)

        assert not Installment.objects.filter(status="PAID").exists()

    @pytest.mark.parametrize("fraction", [0.5, D("0.9")], ids=["float", "decimal"])
    def test_ids_with_a_fraction_are_refused_not_truncated(self, actor, fraction):
        plan = PlanFactory()
        first = plan.installments.get(number=1)

        with pytest.raises(PaymentError):
            pay_installments(installment_ids=[first.pk + fraction], actor=actor)

        assert _statuses(plan) == ["UPCOMING", "UPCOMING", "UPCOMING"]

    def test_paying_the_last_overdue_installment_returns_the_customer_to_normal(self, actor, audit_events):
        customer, plan = _overdue_customer(recent=True)
        overdue = plan.installments.get(status="OVERDUE")

        result = pay_installments(installment_ids=[overdue.pk], customer_id=customer.customer_id, actor=actor)

        assert result.customer_status == Customer.Status.NORMAL
        customer.refresh_from_db()
        assert customer.status == Customer.Status.NORMAL
        recovery = audit_events("customer.status_changed", customer_ref=customer.customer_id)[-1]
        assert recovery.data["from"] == "DEBT_USER"
        assert recovery.data["to"] == "NORMAL"
        assert recovery.actor_user == actor.user

    def test_a_customer_with_another_overdue_installment_stays_a_debt_user(self, actor, audit_events):
        recent_start = timezone.localdate() - datetime.timedelta(days=45)
        plan = PlanFactory(start_date=recent_start)
        PlanFactory(customer=plan.customer, start_date=recent_start)
        check_overdue()
        customer = plan.customer
        first_overdue, second_overdue = Installment.objects.filter(customer=customer, status="OVERDUE")
        flips = len(audit_events("customer.status_changed"))

        result = pay_installments(installment_ids=[first_overdue.pk], actor=actor)

        assert result.customer_status == Customer.Status.DEBT_USER
        customer.refresh_from_db()
        assert customer.status == Customer.Status.DEBT_USER
        assert len(audit_events("customer.status_changed")) == flips

        pay_installments(installment_ids=[second_overdue.pk], actor=actor)

        customer.refresh_from_db()
        assert customer.status == Customer.Status.NORMAL

    def test_paying_an_upcoming_installment_does_not_clear_debt(self, actor):
        customer, plan = _overdue_customer()
        upcoming = plan.installments.filter(status="UPCOMING").first()

        result = pay_installments(installment_ids=[upcoming.pk], actor=actor)

        assert result.customer_status == Customer.Status.DEBT_USER
        customer.refresh_from_db()
        assert customer.status == Customer.Status.DEBT_USER

    def test_a_plan_with_every_installment_paid_is_completed(self, actor, audit_events):
        plan = PlanFactory()
        other = PlanFactory(customer=plan.customer)
        ids = list(plan.installments.values_list("pk", flat=True))

        pay_installments(installment_ids=ids, actor=actor)

        assert Plan.objects.get(pk=plan.pk).status == Plan.Status.COMPLETED
        assert Plan.objects.get(pk=other.pk).status == Plan.Status.ACTIVE
        [event] = audit_events("plan.completed")
        assert event.target_id == str(plan.pk)

    def test_a_plan_paid_in_several_payments_is_completed_by_the_last(self, actor):
        plan = PlanFactory(installment_count=2)
        first, second = plan.installments.order_by("number")

        pay_installments(installment_ids=[first.pk], actor=actor)
        assert Plan.objects.get(pk=plan.pk).status == Plan.Status.ACTIVE
        pay_installments(installment_ids=[second.pk], actor=actor)
        assert Plan.objects.get(pk=plan.pk).status == Plan.Status.COMPLETED
        assert Plan.objects.get(pk=plan.pk).status == Plan.Status.COMPLETED


def _bulk_overdue(n: int) -> None:
    """n customers, each with a one-installment-due-in-the-past plan, inserted in bulk."""
    customers = Customer.objects.bulk_create(
        prepare_customer(
            customer_id=f"bulk-{i:05d}",
            full_name=f"Bulk {i}",
            phone_number=f"+99893{i:07d}",
            passport_number=f"AC{i:07d}",
            card_number=f"4000{i:012d}",
            date_of_birth=None,
        )
        for i in range(n)
    )
    if not all(c.pk for c in customers):  # backends without RETURNING on bulk insert
        customers = list(Customer.objects.filter(customer_id__startswith="bulk-").order_by("pk"))
    plans = Plan.objects.bulk_create(
        Plan(customer=c, total_amount=D("200.00"), installment_count=2, start_date=START) for c in customers
    )
    Installment.objects.bulk_create(
        Installment(plan=p, customer=c, number=number, amount_due=D("100.00"), due_date=due)
        for p, c in zip(plans, customers, strict=True)
        for number, due in ((1, datetime.date(2025, 2, 10)), (2, datetime.date(2025, 4, 10)))
    )


class TestCheckOverdue:
    def test_installments_due_before_the_as_of_date_become_overdue(self):
        plan = PlanFactory(start_date=START)

        result = check_overdue(as_of=AS_OF)

        assert result.as_of == AS_OF
        assert result.installments_marked_overdue == 1
        assert _statuses(plan) == ["OVERDUE", "UPCOMING", "UPCOMING"]

    def test_an_installment_due_on_the_as_of_date_is_not_yet_overdue(self):
        plan = PlanFactory(start_date=START)

        check_overdue(as_of=datetime.date(2025, 2, 10))

        assert _statuses(plan) == ["UPCOMING", "UPCOMING", "UPCOMING"]
        plan.customer.refresh_from_db()
        assert plan.customer.status == Customer.Status.NORMAL

    def test_paid_installments_are_left_alone(self, actor):
        plan = PlanFactory(start_date=START)
        pay_installments(installment_ids=[plan.installments.get(number=1).pk], actor=actor)

        result = check_overdue(as_of=AS_OF)

        assert result.installments_marked_overdue == 0
        assert _statuses(plan) == ["PAID", "UPCOMING", "UPCOMING"]
        plan.customer.refresh_from_db()
        assert plan.customer.status == Customer.Status.NORMAL

    def test_customers_with_an_overdue_installment_become_debt_users_and_are_audited(self, audit_events):
        late = PlanFactory(start_date=START)
        late_twice = PlanFactory(start_date=START)
        PlanFactory(customer=late_twice.customer, start_date=START)
        on_time = PlanFactory(start_date=datetime.date(2025, 3, 1))

        result = check_overdue(as_of=AS_OF)

        assert result.installments_marked_overdue == 3
        assert result.customers_marked_debt == 2
        statuses = dict(Customer.objects.values_list("customer_id", "status"))
        assert statuses == {
            late.customer.customer_id: "DEBT_USER",
            late_twice.customer.customer_id: "DEBT_USER",
            on_time.customer.customer_id: "NORMAL",
        }
        flips = audit_events("customer.status_changed")
        assert sorted(e.customer_ref for e in flips) == sorted(
            [late.customer.customer_id, late_twice.customer.customer_id]
        )
        for event in flips:
            assert event.actor_kind == "system"
            assert event.actor_label == "overdue-checker"
            assert event.target_type == "customer"
            assert event.target_id == event.customer_ref
            assert event.data == {"from": "NORMAL", "to": "DEBT_USER", "reason": "Overdue installment"}
            assert abs(event.at - timezone.now()) < datetime.timedelta(minutes=1)
        [summary] = audit_events("overdue.checked")
        assert summary.target_id == "2025-03-10"
        assert summary.data == {
            "installments_marked_overdue": 3,
            "customers_marked_debt": 2,
            "cases_opened": 2,
            "promises_kept": 0,
            "promises_broken": 0,
        }

    def test_a_debt_user_is_not_flipped_or_audited_again(self, audit_events):
        _overdue_customer()
        flips = len(audit_events("customer.status_changed"))

        check_overdue(as_of=datetime.date(2025, 4, 11))

        assert len(audit_events("customer.status_changed")) == flips

    def test_a_customer_in_debt_with_a_new_overdue_installment_stays_one_debt_user(self):
        _, plan = _overdue_customer()

        result = check_overdue(as_of=datetime.date(2025, 5, 1))

        assert result.installments_marked_overdue == 2
        assert result.customers_marked_debt == 0
        assert _statuses(plan) == ["OVERDUE", "OVERDUE", "OVERDUE"]

    def test_running_it_twice_changes_nothing_the_second_time(self):
        plan = PlanFactory(start_date=START)
        check_overdue(as_of=AS_OF)
        events = AuditEvent.objects.count()
        customer_row = Customer.objects.values().get(pk=plan.customer.pk)
        installment_rows = list(Installment.objects.values().order_by("pk"))

        result = check_overdue(as_of=AS_OF)

        assert (result.installments_marked_overdue, result.customers_marked_debt) == (0, 0)
        assert AuditEvent.objects.count() == events
        assert Customer.objects.values().get(pk=plan.customer.pk) == customer_row
        assert list(Installment.objects.values().order_by("pk")) == installment_rows

    def test_nothing_due_records_nothing(self):
        PlanFactory()

        result = check_overdue(as_of=AS_OF)

        assert (result.installments_marked_overdue, result.customers_marked_debt) == (0, 0)
        assert not AuditEvent.objects.filter(action__in=["overdue.checked", "customer.status_changed"]).exists()

    def test_as_of_defaults_to_today(self):
        start = timezone.localdate() - datetime.timedelta(days=40)
        plan = PlanFactory(start_date=start, installment_count=2)

        result = check_overdue()

        assert result.as_of == timezone.localdate()
        assert _statuses(plan)[0] == "OVERDUE"

    def test_the_actor_may_be_given(self, audit_events):
        PlanFactory(start_date=START)

        check_overdue(as_of=AS_OF, actor=Actor.system("manage.py check_overdue"))

        assert {e.actor_label for e in audit_events("customer.status_changed")} == {"manage.py check_overdue"}

    def test_a_normal_customer_overdue_without_a_hold_is_flipped_again_by_the_next_run(self, audit_events):
        customer, _ = _overdue_customer()
        # As a row from before holds (rule 11) could be: NORMAL, overdue, no hold date.
        Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.NORMAL)

        result = check_overdue(as_of=AS_OF)

        customer.refresh_from_db()
        assert (result.installments_marked_overdue, result.customers_marked_debt) == (0, 1)
        assert customer.status == Customer.Status.DEBT_USER and customer.overdue_since == datetime.date(2025, 2, 10)
        assert len(audit_events("customer.status_changed")) == 2

    def test_a_debt_users_date_moves_back_when_an_older_installment_falls_due(self):
        customer, _ = _overdue_customer()  # overdue since Feb 10
        Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.NORMAL)  # for the write (rule 1)
        PlanFactory(customer=customer, start_date=datetime.date(2024, 12, 1))  # due Jan 1, Feb 1, Mar 1
        Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.DEBT_USER)

        result = check_overdue(as_of=AS_OF)

        customer.refresh_from_db()
        assert (result.installments_marked_overdue, result.customers_marked_debt) == (3, 0)
        assert customer.status == Customer.Status.DEBT_USER and customer.overdue_since == datetime.date(2025, 1, 1)

    @pytest.mark.parametrize("rows", [10, 1000])
    def test_the_number_of_queries_does_not_grow_with_the_rows(self, rows, django_assert_max_num_queries):
        # The same bound for 10 and 1,000 rows, on both databases: savepoint, advisory lock (PostgreSQL),
        # customer locks, their audit rows, customer update, installment update, summary audit, release.
        _bulk_overdue(rows)

        # 8 for rule 2 (the customer update also stores their overdue amount: plans.balances),
        # then 5 for rule 12: the open cases' sort key, open the new debtors' cases, keep
        # promises, mark the cases of broken ones, break them.
        with django_assert_max_num_queries(13):
            result = check_overdue(as_of=AS_OF)

        assert result.installments_marked_overdue == rows
        assert result.customers_marked_debt == rows
        assert Customer.objects.filter(status="DEBT_USER").count() == rows
        assert AuditEvent.objects.filter(action="customer.status_changed").count() == rows
        assert Installment.objects.filter(status="OVERDUE").count() == rows
