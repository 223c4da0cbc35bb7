"""The money ledger under any sequence of moves (rules 2, 3 and 6-9): a hypothesis state machine.

Each step reads the ledger's rows, predicts the rows the move must leave with a small model of
DESIGN.md written here (where each cent goes, what each installment, plan, refund and customer
becomes), runs the real service and compares. A refusal must be the one the model expects and
change no row at all; a replay (the same payment reference, refund transaction id or webhook-id,
or an approval delivered twice) must move no cent. After every step the whole database passes
`assert_ledger_consistent()` and every customer is DEBT_USER exactly when it has an OVERDUE
installment, its `overdue_since` the oldest of their due dates.

Why the last statement is exact: rule 2 makes every customer with an OVERDUE installment
DEBT_USER, and rule 7 does so at once on a reversal; payments, refunds and cancellations never
create debt (an installment past due stays UPCOMING until the checker runs) and, rule 3, return a
customer to NORMAL when nothing OVERDUE is left. No step here overrides a status by hand.

Each example runs in a savepoint rolled back at its end (see `tests.property`), inside the
transaction of pytest-django's `db` fixture.
"""

from __future__ import annotations

import datetime
import itertools
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from decimal import Decimal

import pytest
from django.db.models import Min
from django.utils import timezone
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.collection.models import Case
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans import ledger
from bnpl_admin.plans.errors import (
    DebtUserError,
    NothingOutstanding,
    PaymentConflict,
    PaymentError,
    PaymentExceedsBalance,
    PlanError,
    PlanNotCancellable,
)
from bnpl_admin.plans.models import Installment, Payment, PaymentAllocation, Plan
from bnpl_admin.plans.services import check_overdue, create_plan
from bnpl_admin.refunds import services as refunds
from bnpl_admin.refunds.errors import InvalidRefund, RefundConflict, RefundError, RefundLimitExceeded
from bnpl_admin.refunds.models import ALLOWED_TRANSITIONS, Refund
from bnpl_admin.webhooks import services as webhooks
from bnpl_admin.webhooks.models import WebhookEvent
from tests.factories import CustomerFactory, MerchantFactory
from tests.ledger.invariants import assert_ledger_consistent
from tests.property import COMMON, rolled_back

pytestmark = pytest.mark.django_db

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
ACTOR = Actor.system("ledger-state-machine")
UPCOMING, OVERDUE, PAID, CANCELLED = (Installment.Status[s] for s in ("UPCOMING", "OVERDUE", "PAID", "CANCELLED"))
OPEN = {UPCOMING, OVERDUE}
REFUSALS = (PlanError, RefundError)
_names = itertools.count()


def cents(amount: Decimal) -> int:
    return int(amount * 100)


def amount_of(cents_: int) -> Decimal:
    return (Decimal(cents_) / 100).quantize(CENT)


# The rows, read whole, and the model of what a move does to them.


@dataclass
class Inst:
    plan: object
    customer: int
    number: int
    due: datetime.date
    amount_due: Decimal
    paid: Decimal
    refunded: Decimal
    status: str

    @property
    def remaining(self) -> Decimal:
        return self.amount_due - self.paid - self.refunded


@dataclass
class PlanRow:
    customer: int
    total: Decimal
    status: str
    created_at: datetime.datetime


@dataclass
class RefundRow:
    customer: int
    plan: object
    merchant: int | None
    transaction_id: str
    amount: Decimal
    status: str
    applied: Decimal | None
    to_customer: Decimal | None
    processed_at: datetime.datetime | None


@dataclass
class Books:
    """Every money row of the database, as plain values (mutable, for the model)."""

    customers: dict = field(default_factory=dict)  # pk -> [status, overdue_since]
    plans: dict = field(default_factory=dict)
    insts: dict = field(default_factory=dict)
    payments: dict = field(default_factory=dict)  # pk -> (customer, amount, reference, status)
    allocations: dict = field(default_factory=dict)  # payment pk -> [(installment pk, amount)] by id
    refunds: dict = field(default_factory=dict)
    events: dict = field(default_factory=dict)  # pk -> (webhook_id, status, refund pk)
    audit_events: int = 0

    @classmethod
    def read(cls) -> Books:
        books = cls(audit_events=AuditEvent.objects.count())
        for pk, status, since in Customer.objects.values_list("pk", "status", "overdue_since"):
            books.customers[pk] = [status, since]
        for pk, customer, total, status, created in Plan.objects.values_list(
            "pk", "customer_id", "total_amount", "status", "created_at"
        ):
            books.plans[pk] = PlanRow(customer, total, status, created)
        for row in Installment.objects.values_list(
            "pk",
            "plan_id",
            "customer_id",
            "number",
            "due_date",
            "amount_due",
            "amount_paid",
            "amount_refunded",
            "status",
        ):
            books.insts[row[0]] = Inst(*row[1:])
        for pk, customer, amount, reference, status in Payment.objects.values_list(
            "pk", "customer_id", "amount", "reference", "status"
        ):
            books.payments[pk] = (customer, amount, reference, status)
            books.allocations[pk] = []
        for payment, installment, amount in PaymentAllocation.objects.order_by("id").values_list(
            "payment_id", "installment_id", "amount"
        ):
            books.allocations[payment].append((installment, amount))
        for row in Refund.objects.values_list(
            "pk",
            "customer_id",
            "plan_id",
            "merchant_id",
            "transaction_id",
            "amount",
            "status",
            "amount_applied",
            "amount_to_customer",
            "processed_at",
        ):
            books.refunds[row[0]] = RefundRow(*row[1:])
        for pk, webhook_id, status, refund in WebhookEvent.objects.values_list(
            "pk", "webhook_id", "status", "refund_id"
        ):
            books.events[pk] = (webhook_id, status, refund)
        return books

    def copy(self) -> Books:
        return Books(
            customers={pk: list(v) for pk, v in self.customers.items()},
            plans={pk: replace(v) for pk, v in self.plans.items()},
            insts={pk: replace(v) for pk, v in self.insts.items()},
            payments=dict(self.payments),
            allocations={pk: list(v) for pk, v in self.allocations.items()},
            refunds={pk: replace(v) for pk, v in self.refunds.items()},
            events=dict(self.events),
            audit_events=self.audit_events,
        )

    def money(self) -> dict:
        """What a move may change, compared between the model and the database (timestamps and
        the audit trail left out)."""
        return {
            "customers": {pk: tuple(v) for pk, v in self.customers.items()},
            "plans": {pk: (p.customer, p.total, p.status) for pk, p in self.plans.items()},
            "insts": {pk: (i.plan, i.amount_due, i.paid, i.refunded, i.status) for pk, i in self.insts.items()},
            "payments": dict(self.payments),
            "allocations": self.allocations,
            "refunds": {
                pk: (r.customer, r.plan, r.merchant, r.transaction_id, r.amount, r.status, r.applied, r.to_customer)
                for pk, r in self.refunds.items()
            },
        }

    def everything(self) -> dict:
        """Every row, for "a refusal changes nothing"."""
        return {
            **self.money(),
            "processed_at": {pk: r.processed_at for pk, r in self.refunds.items()},
            "events": dict(self.events),
            "audit_events": self.audit_events,
        }

    # Views

    def of_plan(self, plan) -> list[Inst]:
        return sorted((i for i in self.insts.values() if i.plan == plan), key=lambda i: i.number)

    def open_of(self, customer, plan=None) -> list[tuple[int, Inst]]:
        """Rule 6's candidates, in rule 6's order."""
        found = [
            (pk, i)
            for pk, i in self.insts.items()
            if i.customer == customer
            and i.status in OPEN
            and self.plans[i.plan].status == Plan.Status.ACTIVE
            and (plan is None or i.plan == plan)
        ]
        return sorted(
            found,
            key=lambda e: (
                e[1].status != OVERDUE,
                e[1].due,
                self.plans[e[1].plan].created_at,
                e[1].plan,
                e[1].number,
            ),
        )

    def approved_on(self, plan) -> Decimal:
        return sum((r.amount for r in self.refunds.values() if r.plan == plan and r.status == "APPROVED"), ZERO)

    # The moves of the model

    def settle_installment(self, inst: Inst, *, reopen_overdue_before=None) -> None:
        """DESIGN.md's installment statuses: nothing remaining is PAID (something paid) or
        CANCELLED; something remaining is OVERDUE at once after a reversal when past due, else
        open (UPCOMING when it was closed)."""
        if inst.remaining == 0:
            inst.status = PAID if inst.paid > 0 else CANCELLED
        elif reopen_overdue_before is not None and inst.due < reopen_overdue_before:
            inst.status = OVERDUE
        elif inst.status not in OPEN:
            inst.status = UPCOMING

    def settle_plans(self, plans) -> None:
        for pk in plans:
            plan = self.plans[pk]
            if plan.status == Plan.Status.CANCELLED:
                continue
            if self.approved_on(pk) >= plan.total:
                plan.status = Plan.Status.CANCELLED
            elif all(i.remaining == 0 for i in self.of_plan(pk)):
                plan.status = Plan.Status.COMPLETED
            else:
                plan.status = Plan.Status.ACTIVE

    def settle_customer(self, customer, *, may_become_debt=False) -> None:
        """Rule 3 (and rule 7 when `may_become_debt`)."""
        dues = [i.due for i in self.insts.values() if i.customer == customer and i.status == OVERDUE]
        row = self.customers[customer]
        row[1] = min(dues) if dues else None
        if row[0] == Customer.Status.DEBT_USER and not dues:
            row[0] = Customer.Status.NORMAL
        elif may_become_debt and dues:
            row[0] = Customer.Status.DEBT_USER

    def take_off_from_last(self, amount: Decimal, plan) -> Decimal:
        left = amount
        for inst in reversed(self.of_plan(plan)):
            part = min(left, inst.remaining)
            if part > 0:
                inst.refunded += part
                left -= part
        return amount - left

    def post(self, customer, parts) -> list[tuple[int, Decimal]]:
        for pk, part in parts:
            self.insts[pk].paid += part
            self.settle_installment(self.insts[pk])
        self.settle_plans({self.insts[pk].plan for pk, _ in parts})
        self.settle_customer(customer)
        return parts

    def check_overdue(self, as_of: datetime.date) -> None:
        late = set()
        for inst in self.insts.values():
            if inst.status == UPCOMING and inst.due < as_of:
                inst.status = OVERDUE
                late.add(inst.customer)
        for customer in late:
            self.settle_customer(customer, may_become_debt=True)

    def reverse(self, payment) -> None:
        customer, amount, reference, _ = self.payments[payment]
        self.payments[payment] = (customer, amount, reference, Payment.Status.REVERSED)
        plans = {self.insts[pk].plan for pk, _ in self.allocations[payment]}
        for pk, part in self.allocations[payment]:
            self.insts[pk].paid -= part
        # What an approved refund was to pay back first covers what the reversal makes owed.
        owed = sorted(
            (
                (r.processed_at, pk)
                for pk, r in self.refunds.items()
                if r.plan in plans and r.status == "APPROVED" and r.to_customer > 0
            ),
        )
        for _, pk in owed:
            refund = self.refunds[pk]
            absorbed = self.take_off_from_last(refund.to_customer, refund.plan)
            refund.applied += absorbed
            refund.to_customer -= absorbed
        today = timezone.localdate()
        for inst in self.insts.values():
            if inst.plan in plans:
                self.settle_installment(inst, reopen_overdue_before=today)
        self.settle_plans(plans)
        self.settle_customer(customer, may_become_debt=True)

    def approve(self, refund_pk) -> None:
        refund = self.refunds[refund_pk]
        refund.status = "APPROVED"
        if refund.plan is None:
            refund.applied, refund.to_customer = ZERO, refund.amount
            return
        applied = self.take_off_from_last(refund.amount, refund.plan)
        for inst in self.of_plan(refund.plan):
            self.settle_installment(inst)
        refund.applied, refund.to_customer = applied, refund.amount - applied
        self.settle_plans({refund.plan})
        self.settle_customer(refund.customer)

    def cancel(self, plan) -> None:
        for inst in self.of_plan(plan):
            inst.refunded += inst.remaining
            self.settle_installment(inst)
        self.plans[plan].status = Plan.Status.CANCELLED
        self.settle_customer(self.plans[plan].customer)


MERCHANT_STATUSES = {"approved": "APPROVED", "rejected": "REJECTED", "failed": "REJECTED", "processing": "PROCESSING"}


def merchant_move(status_now: str, reported: str) -> str | None:
    """Rule 5: the status a refund moves to on a merchant's report, or None (ignored)."""
    target = MERCHANT_STATUSES[reported]
    return target if target in ALLOWED_TRANSITIONS[status_now] else None


# The machine

PLANS = st.tuples(
    st.integers(0, 3),  # whose
    st.integers(2, 4),  # installments
    st.one_of(st.sampled_from([400, 1000, 30000, 50000]), st.integers(400, 100_000)),  # total in cents
    st.sampled_from([0, 20, 45, 80, 140]),  # started that many days ago
)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.rollback = ExitStack()
        self.rollback.enter_context(rolled_back())
        self.today = timezone.localdate()
        self.merchant = MerchantFactory()
        self.customers: list[Customer] = []
        self.plans: list = []  # plan pks, in creation order
        self.payments: list = []  # payment pks
        self.refunds: list = []  # refund pks
        self.webhook_ids: list[tuple[str, dict]] = []  # what was delivered, to deliver again
        self.name = f"sm{next(_names)}"

    def teardown(self):
        self.rollback.close()

    # Helpers

    def customer(self, index: int) -> Customer:
        return self.customers[index % len(self.customers)]

    def expect(self, call, model: Books | type[Exception], before: Books, *, replay: bool = False):
        """Run `call()`. `model` is the predicted Books after it, or the refusal expected (then no
        row may change). `replay=True`: a repeated request, which may store its event and audit
        it but moves no money."""
        if isinstance(model, type):
            with pytest.raises(model):
                call()
            event(f"{call.__qualname__.split('.')[1]}: refused ({model.__name__})")
            after = Books.read()
            assert after.everything() == before.everything(), f"refused ({model.__name__}) but changed rows"
            return None
        try:
            result = call()
        except REFUSALS as exc:
            pytest.fail(f"refused unexpectedly: {exc!r}")
        after = Books.read()
        new_payments = set(after.payments) - set(before.payments)
        for pk in new_payments:
            assert model.payments.get("new"), f"an unexpected payment {pk}"
            model.payments[pk] = model.payments.pop("new")
            model.allocations[pk] = model.allocations.pop("new")
        new_refunds = set(after.refunds) - set(before.refunds)
        for pk in new_refunds:
            model.refunds[pk] = model.refunds.pop("new")
        assert "new" not in model.payments and "new" not in model.refunds, "the expected row was not written"
        assert after.money() == model.money()
        event(f"{call.__qualname__.split('.')[1]}: {'moved nothing' if after.money() == before.money() else 'moved'}")
        if replay:
            assert after.money() == before.money(), "a replay moved money"
        return result

    # Rules

    @initialize(count=st.integers(2, 4), plans=st.lists(PLANS, min_size=1, max_size=4))
    def open_the_books(self, count, plans):
        """2 to 4 customers and a few plans, some started long enough ago to fall due."""
        self.customers = [CustomerFactory() for _ in range(count)]
        for plan in plans:
            self.create_plan(*plan)

    @rule(plan=PLANS)
    def another_plan(self, plan):
        self.create_plan(*plan)

    def create_plan(self, who, count, total_cents, days_ago):
        customer = self.customer(who)
        before = Books.read()

        def call():
            return create_plan(
                customer_id=customer.customer_id,
                total_amount=amount_of(total_cents),
                installment_count=count,
                merchant=self.merchant,
                start_date=self.today - datetime.timedelta(days=days_ago),
                actor=ACTOR,
            )

        if before.customers[customer.pk][0] == Customer.Status.DEBT_USER:
            self.expect(call, DebtUserError, before)
            return
        plan = call()
        self.plans.append(plan.pk)
        rows = Installment.objects.filter(plan=plan)
        assert sum(rows.values_list("amount_due", flat=True)) == amount_of(total_cents)
        assert set(rows.values_list("status", flat=True)) == {UPCOMING}

    @rule(days_ago=st.sampled_from([0, 0, 15, 40]))
    def run_the_overdue_checker(self, days_ago):
        as_of = self.today - datetime.timedelta(days=days_ago)
        before = Books.read()
        model = before.copy()
        model.check_overdue(as_of)
        self.expect(lambda: check_overdue(as_of=as_of, actor=ACTOR), model, before)

    @rule(
        who=st.integers(0, 3),
        how=st.sampled_from(["part", "part", "all", "over", "cent"]),
        share=st.integers(1, 10**6),
        on_plan=st.sampled_from([None, None, "own", "other"]),
        pick=st.integers(0, 100),
    )
    def pay_an_amount(self, who, how, share, on_plan, pick):
        customer = self.customer(who)
        before = Books.read()
        plan = None
        if on_plan:
            pool = [pk for pk in self.plans if (before.plans[pk].customer == customer.pk) == (on_plan == "own")]
            plan = pool[pick % len(pool)] if pool else None
            on_plan = on_plan if plan else None
        candidates = before.open_of(customer.pk, plan if on_plan == "own" else None)
        outstanding = cents(sum((i.remaining for _, i in candidates), ZERO))
        amount = {
            "part": 1 + share % max(outstanding, 1),
            "all": outstanding,
            "over": outstanding + 1 + share % 5000,
            "cent": 1,
        }[how]
        amount = max(amount, 1)
        reference = f"{self.name}-pay-{len(self.payments)}-{share}"

        def call():
            return ledger.record_payment(
                customer_id=customer.customer_id,
                amount=str(amount_of(amount)),
                reference=reference,
                plan_id=plan,
                actor=ACTOR,
            )

        if on_plan == "other" or (plan is not None and before.plans[plan].status == Plan.Status.CANCELLED):
            self.expect(call, PaymentError, before)
            return
        if outstanding == 0:
            self.expect(call, NothingOutstanding, before)
            return
        if amount > outstanding:
            self.expect(call, PaymentExceedsBalance, before)
            return
        model = before.copy()
        parts, left = [], amount_of(amount)
        for pk, inst in candidates:
            part = min(left, inst.remaining)
            if part > 0:
                parts.append((pk, part))
                left -= part
        model.post(customer.pk, parts)
        model.payments["new"] = (customer.pk, amount_of(amount), reference, Payment.Status.POSTED)
        model.allocations["new"] = parts
        posted = self.expect(call, model, before)
        assert posted.created
        self.payments.append(posted.payment.pk)

    @precondition(lambda self: self.payments)
    @rule(pick=st.integers(0, 100), change=st.sampled_from(["same", "same", "amount", "customer"]))
    def replay_a_payment_reference(self, pick, change):
        before = Books.read()
        payment = self.payments[pick % len(self.payments)]
        customer_pk, amount, reference, _ = before.payments[payment]
        customer = next(c for c in self.customers if c.pk == customer_pk)
        if change == "amount":
            amount += CENT
        elif change == "customer":
            customer = next(c for c in self.customers if c.pk != customer_pk)

        def call():
            return ledger.record_payment(
                customer_id=customer.customer_id, amount=str(amount), reference=reference, actor=ACTOR
            )

        if change != "same":
            self.expect(call, PaymentConflict, before)
            return
        again = self.expect(call, before.copy(), before, replay=True)
        assert (again.payment.pk, again.created) == (payment, False)

    @rule(who=st.integers(0, 3), picks=st.lists(st.integers(0, 100), min_size=1, max_size=3), stray=st.booleans())
    def pay_installments_by_id(self, who, picks, stray):
        customer = self.customer(who)
        before = Books.read()
        mine = sorted(pk for pk, i in before.insts.items() if i.customer == customer.pk)
        if not mine:
            return
        ids = sorted({mine[p % len(mine)] for p in picks})
        if stray:  # another customer's installment: all or nothing
            others = sorted(pk for pk, i in before.insts.items() if i.customer != customer.pk)
            ids = sorted({*ids, others[picks[0] % len(others)]}) if others else ids
        payable = {pk for pk, _ in before.open_of(customer.pk)}

        def call():
            return ledger.pay_installments(installment_ids=ids, customer_id=customer.customer_id, actor=ACTOR)

        if not set(ids) <= payable:
            self.expect(call, PaymentError, before)
            return
        model = before.copy()
        parts = model.post(customer.pk, [(pk, before.insts[pk].remaining) for pk in ids])
        total = sum((part for _, part in parts), ZERO)
        model.allocations["new"] = parts

        def pay():
            posted = call()  # the reference is generated: the model learns it from the answer
            model.payments["new"] = (customer.pk, total, posted.payment.reference, Payment.Status.POSTED)
            return posted

        posted = self.expect(pay, model, before)
        assert posted.created and posted.payment.reference.startswith("pay-")
        self.payments.append(posted.payment.pk)

    @precondition(lambda self: self.payments)
    @rule(pick=st.integers(0, 100))
    def reverse_a_payment(self, pick):
        before = Books.read()
        payment = self.payments[pick % len(self.payments)]

        def call():
            return ledger.reverse_payment(payment_id=payment, reason="Bounced", actor=ACTOR)

        if before.payments[payment][3] == Payment.Status.REVERSED:
            self.expect(call, PaymentError, before)
            return
        model = before.copy()
        model.reverse(payment)
        self.expect(call, model, before)

    @rule(
        who=st.integers(0, 3),
        pick=st.integers(0, 100),
        how=st.sampled_from(["part", "part", "rest", "over", "no plan"]),
        share=st.integers(1, 10**6),
        replay=st.sampled_from([False, False, True]),
    )
    def issue_a_refund(self, who, pick, how, share, replay):
        customer = self.customer(who)
        before = Books.read()
        mine = [pk for pk in self.plans if before.plans[pk].customer == customer.pk]
        plan = None if how == "no plan" or not mine else mine[pick % len(mine)]
        if plan is None:
            amount = 1 + share % 20000
        else:
            taken = sum((r.amount for r in before.refunds.values() if r.plan == plan and r.status != "REJECTED"), ZERO)
            refundable = cents(before.plans[plan].total - taken)
            amount = {"part": 1 + share % max(refundable, 1), "rest": refundable, "over": refundable + 1}[how]
            amount = max(amount, 1)
        transaction_id = f"{self.name}-txn-{len(self.refunds)}-{share}"
        merchant = self.merchant if plan is None and share % 2 else None

        def call():
            return refunds.issue_refund(
                customer_id=customer.customer_id,
                transaction_id=transaction_id,
                amount=str(amount_of(amount)),
                plan_id=plan,
                merchant=merchant,
                actor=ACTOR,
            )

        if plan is not None and before.plans[plan].status == Plan.Status.CANCELLED:
            self.expect(call, InvalidRefund, before)
            return
        if plan is not None and amount > refundable:
            self.expect(call, RefundLimitExceeded, before)
            return
        model = before.copy()
        model.refunds["new"] = RefundRow(
            customer.pk,
            plan,
            self.merchant.pk if plan is not None or merchant else None,
            transaction_id,
            amount_of(amount),
            "PENDING",
            None,
            None,
            None,
        )
        issued = self.expect(call, model, before)
        assert issued.created
        self.refunds.append(issued.refund.pk)
        if replay:  # the same request again, then the same transaction id for another amount
            before = Books.read()
            again = self.expect(call, before.copy(), before, replay=True)
            assert (again.refund.pk, again.created) == (issued.refund.pk, False)
            amount += 1
            self.expect(call, RefundConflict, before)

    @precondition(lambda self: self.refunds)
    @rule(
        pick=st.integers(0, 100),
        reported=st.sampled_from(["approved", "approved", "rejected", "failed", "processing"]),
        by_transaction_id=st.booleans(),
        twice=st.booleans(),
    )
    def merchant_reports_directly(self, pick, reported, by_transaction_id, twice):
        """The page's and API's path: `apply_merchant_status`, applied once even when called twice."""
        refund = self.refunds[pick % len(self.refunds)]
        for attempt in range(2 if twice else 1):
            before = Books.read()
            row = before.refunds[refund]
            ref = row.transaction_id if by_transaction_id else refund
            target = merchant_move(row.status, reported)
            model = before.copy()
            if target == "APPROVED":
                model.approve(refund)
            elif target:
                model.refunds[refund].status = target
            update = self.expect(
                lambda ref=ref: refunds.apply_merchant_status(refund_ref=ref, status=reported, actor=ACTOR),
                model,
                before,
                replay=target is None,
            )
            assert update.applied == (target is not None)
            if attempt:
                assert not update.applied, "the same report applied twice"

    @precondition(lambda self: self.refunds)
    @rule(
        pick=st.integers(0, 100),
        reported=st.sampled_from(["approved", "approved", "rejected", "failed", "processing"]),
        redeliver=st.booleans(),
    )
    def merchant_webhook(self, pick, reported, redeliver):
        """The webhook's path: the event stored (`receive_event`) and processed (`process_event`),
        as the task does; a redelivery of the same webhook-id is a duplicate and moves nothing."""
        refund = self.refunds[pick % len(self.refunds)]
        before = Books.read()
        row = before.refunds[refund]
        webhook_id = f"msg_{self.name}_{len(self.webhook_ids)}"
        payload = {"refund_id": str(refund), "status": reported, "merchant_reference": "R-1"}
        self.webhook_ids.append((webhook_id, payload))
        mine = row.merchant == self.merchant.pk
        target = merchant_move(row.status, reported) if mine else None
        model = before.copy()
        if target == "APPROVED":
            model.approve(refund)
        elif target:
            model.refunds[refund].status = target

        def deliver():
            receipt = webhooks.receive_event(merchant=self.merchant, webhook_id=webhook_id, payload=payload)
            return receipt, webhooks.process_event(event_id=receipt.event.pk)

        receipt, event = self.expect(deliver, model, before, replay=target is None)
        assert not receipt.duplicate
        expected = "PROCESSED" if target else ("IGNORED" if mine else "UNMATCHED")
        assert event.status == expected, event.detail
        if redeliver:
            before = Books.read()
            again, event_again = self.expect(deliver, before.copy(), before, replay=True)
            assert again.duplicate and again.event.pk == receipt.event.pk
            assert event_again.status == expected and event_again.attempts == 1
            assert before.everything() == Books.read().everything(), "a duplicate delivery wrote a row"

    @precondition(lambda self: self.webhook_ids)
    @rule(pick=st.integers(0, 100))
    def redeliver_an_old_webhook(self, pick):
        webhook_id, payload = self.webhook_ids[pick % len(self.webhook_ids)]
        before = Books.read()

        def deliver():
            receipt = webhooks.receive_event(merchant=self.merchant, webhook_id=webhook_id, payload=payload)
            return receipt, webhooks.process_event(event_id=receipt.event.pk)

        receipt, _ = self.expect(deliver, before.copy(), before, replay=True)
        assert receipt.duplicate
        assert Books.read().everything() == before.everything()

    @precondition(lambda self: self.plans)
    @rule(pick=st.integers(0, 100))
    def cancel_a_plan(self, pick):
        before = Books.read()
        plan = self.plans[pick % len(self.plans)]

        def call():
            return ledger.cancel_plan(plan_id=plan, reason="Order never shipped", actor=ACTOR)

        paid = any(
            before.payments[payment][3] == Payment.Status.POSTED
            for payment, parts in before.allocations.items()
            if any(before.insts[pk].plan == plan for pk, _ in parts)
        )
        in_progress = any(r.plan == plan and r.status in ("PENDING", "PROCESSING") for r in before.refunds.values())
        if before.plans[plan].status == Plan.Status.CANCELLED or paid or in_progress:
            self.expect(call, PlanNotCancellable, before)
            return
        model = before.copy()
        model.cancel(plan)
        self.expect(call, model, before)

    # After every step

    @invariant()
    def the_ledger_is_consistent(self):
        assert_ledger_consistent()

    @invariant()
    def debt_user_exactly_when_an_installment_is_overdue(self):
        oldest = dict(
            Installment.objects.filter(status=OVERDUE)
            .values("customer_id")
            .annotate(oldest=Min("due_date"))
            .values_list("customer_id", "oldest")
        )
        for pk, status, since in Customer.objects.values_list("pk", "status", "overdue_since"):
            expected = Customer.Status.DEBT_USER if pk in oldest else Customer.Status.NORMAL
            assert (status, since) == (expected, oldest.get(pk)), pk

    @invariant()
    def open_cases_sort_by_their_customers_overdue_since(self):
        for case in Case.objects.filter(status=Case.Status.OPEN).select_related("customer"):
            assert case.queue_overdue_since == case.customer.overdue_since, case.pk


def test_any_sequence_of_ledger_moves_keeps_the_books_right():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(max_examples=25, stateful_step_count=25, **COMMON),
    )
