"""Demo data: staff accounts, merchants, customers with plans (some overdue) and refunds.

Customers are built with `customers.services.prepare_customer` (the one place that encrypts and
masks PII) and written with bulk inserts in batches, so a million customers stay practical.
Installments already due are mostly paid; about one customer in ten missed one, and the overdue
checker then runs as usual so statuses are consistent. The data follows from the seed alone, so
it fills an empty database only: a second run would write the first one's plan and refund ids again.
"""

from __future__ import annotations

import datetime
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from bnpl_admin.audit import services as audit
from bnpl_admin.audit.services import Actor
from bnpl_admin.collection import portfolio
from bnpl_admin.customers.models import Customer
from bnpl_admin.customers.services import prepare_customer
from bnpl_admin.plans import backfill, balances
from bnpl_admin.plans.ledger import settle_installment, take_off_from_last
from bnpl_admin.plans.models import Installment, Payment, PaymentAllocation, Plan
from bnpl_admin.plans.schedule import build_schedule
from bnpl_admin.plans.services import check_overdue
from bnpl_admin.refunds.models import Refund
from bnpl_admin.staff.roles import RISK, SUPPORT
from bnpl_admin.webhooks.models import Merchant, WebhookEvent
from bnpl_admin.webhooks.services import add_merchant, process_event

DEMO_ACCOUNTS = [
    # username, password, group (None: superuser)
    ("support", "support-demo", SUPPORT),
    ("risk", "risk-demo", RISK),
    ("admin", "admin-demo", None),
]

DEMO_MERCHANTS = [
    ("texnomart", "Texnomart"),
    ("mediapark", "Mediapark"),
    ("uzum-market", "Uzum Market"),
]

MALE_NAMES = [
    "Aziz",
    "Bekzod",
    "Jasur",
    "Sardor",
    "Otabek",
    "Sherzod",
    "Rustam",
    "Dilshod",
    "Jamshid",
    "Farrux",
    "Ulugbek",
    "Bobur",
    "Anvar",
    "Temur",
    "Akmal",
    "Shoxrux",
    "Javlon",
    "Eldor",
    "Nodir",
    "Islom",
]
FEMALE_NAMES = [
    "Dilnoza",
    "Nilufar",
    "Madina",
    "Gulnora",
    "Shahnoza",
    "Feruza",
    "Malika",
    "Zarina",
    "Kamola",
    "Sevara",
    "Nodira",
    "Munisa",
    "Dildora",
    "Laylo",
    "Mohira",
    "Saida",
    "Yulduz",
    "Barno",
]
SURNAMES = [
    "Karimov",
    "Rahimov",
    "Aliyev",
    "Tursunov",
    "Yusupov",
    "Saidov",
    "Ismoilov",
    "Xolmatov",
    "Nazarov",
    "Ergashev",
    "Qodirov",
    "Mirzayev",
    "Abdullayev",
    "Sobirov",
    "Umarov",
    "Rasulov",
    "Toshmatov",
    "Hamidov",
    "Jurayev",
    "Normatov",
    "Sultonov",
    "Azimov",
]
PHONE_PREFIXES = ["90", "91", "93", "94", "95", "97", "98", "99", "33", "88"]
PASSPORT_SERIES = ["AA", "AB", "AC", "AD", "AE", "FA", "KA"]
CARD_BINS = ["8600", "9860", "4278", "5614"]
REFUND_REASONS = [
    "Item returned",
    "Order cancelled by merchant",
    "Duplicate charge",
    "Damaged on delivery",
    "Wrong size",
    "Service not provided",
]
PLAN_COUNTS = [3, 3, 3, 3, 4, 6, 6, 12]

NOON_UTC = datetime.time(12, tzinfo=datetime.UTC)
BATCH_SIZE = 2000
DELINQUENT_SHARE = 0.10
REFUND_SHARE = 0.08


class DatabaseNotEmpty(Exception):
    """The database already holds customers: seeding would collide with them."""

    def __init__(self, customers: int):
        self.customers = customers
        super().__init__(f"The database already holds {customers} customers")


@dataclass
class SeedResult:
    customers: int = 0
    plans: int = 0
    installments: int = 0
    refunds: int = 0
    overdue_installments: int = 0
    debt_customers: int = 0
    webhook_events: int = 0
    accounts: list = field(default_factory=list)
    merchants: list = field(default_factory=list)


def ensure_demo_accounts() -> list[tuple[str, str, str]]:
    """Create or reset the demo staff accounts; returns (username, password, role)."""
    User = get_user_model()
    accounts = []
    for username, password, group in DEMO_ACCOUNTS:
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(password)
        user.is_active = True
        user.is_staff = group is None
        user.is_superuser = group is None
        user.first_name = username.capitalize()
        user.save()
        user.groups.set([Group.objects.get(name=group)] if group else [])
        accounts.append((username, password, group or "admin"))
    return accounts


def ensure_demo_merchants() -> list[tuple[str, str | None]]:
    """Create the demo merchants that do not exist; returns (code, secret or None when it existed)."""
    created = []
    for code, name in DEMO_MERCHANTS:
        if Merchant.objects.filter(code=code).exists():
            created.append((code, None))
        else:
            _, secret = add_merchant(code=code, name=name, actor=Actor.system("seed_demo"))
            created.append((code, secret))
    return created


def _luhn_complete(partial: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return partial + str((10 - total % 10) % 10)


class _DemoPeople:
    """Deterministic, unique-looking personal data for customer number i."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def customer(self, index: int, customer_id: str, today: datetime.date) -> Customer:
        rng = self.rng
        female = rng.random() < 0.5
        first = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
        surname = rng.choice(SURNAMES) + ("a" if female else "")
        # Index-derived numbers stay unique well past a million customers.
        phone = f"+998{PHONE_PREFIXES[index % 10]}{(index * 7919 + 1234567) % 10_000_000:07d}"
        passport = f"{PASSPORT_SERIES[index % 7]}{(index * 104729 + 1000000) % 10_000_000:07d}"
        card = _luhn_complete(f"{CARD_BINS[index % 4]}{(index * 15485863) % 10**11:011d}")
        born = today - datetime.timedelta(days=rng.randint(19 * 365, 65 * 365))
        return prepare_customer(
            customer_id=customer_id,
            full_name=f"{first} {surname}",
            phone_number=phone,
            passport_number=passport,
            card_number=card,
            date_of_birth=born,
        )


def _batches(total: int, size: int) -> Iterator[range]:
    for start in range(0, total, size):
        yield range(start, min(start + size, total))


def _customer_id_width(total: int) -> int:
    return max(3, len(str(total)))


def seed(*, customers: int, seed: int = 42, progress: Callable[[int], None] | None = None) -> SeedResult:
    """Seed accounts, merchants and `customers` customers with plans and refunds into an empty
    database; raise DatabaseNotEmpty, having written nothing, when it holds customers already."""
    present = Customer.objects.count()
    if present:
        raise DatabaseNotEmpty(present)
    rng = random.Random(seed)
    people = _DemoPeople(rng)
    today = timezone.localdate()
    now = timezone.now()
    result = SeedResult()
    result.accounts = ensure_demo_accounts()
    result.merchants = ensure_demo_merchants()
    merchants = list(Merchant.objects.order_by("code"))
    width = _customer_id_width(customers)

    for batch in _batches(customers, BATCH_SIZE):
        with transaction.atomic():
            batch_customers = [people.customer(i + 1, f"usr-{i + 1:0{width}d}", today) for i in batch]
            Customer.objects.bulk_create(batch_customers)
            plans, installments, refunds = _plans_and_refunds(rng, batch_customers, merchants, today, now)
            _date_before_first_plan(rng, batch_customers, plans)
            Plan.objects.bulk_create(plans)
            _insert_installments(installments)
            Refund.objects.bulk_create(refunds)
            _date_before_processing(rng, refunds, now)
        result.customers += len(batch_customers)
        result.plans += len(plans)
        result.installments += len(installments)
        result.refunds += len(refunds)
        if progress:
            progress(len(batch_customers))

    with transaction.atomic():
        backfill.post_paid_installments(Installment, Payment, PaymentAllocation, reference_prefix="seed-")
        balances.refresh(Customer.objects.all())  # the database held no customer before
    overdue = check_overdue(actor=Actor.system("seed_demo"))
    result.webhook_events = _webhook_events(rng)
    portfolio.refresh(overdue.as_of)
    result.overdue_installments = overdue.installments_marked_overdue
    result.debt_customers = overdue.customers_marked_debt
    audit.record(
        actor=Actor.system("seed_demo"),
        action="demo.seeded",
        target_type="demo",
        target_id=str(seed),
        data={"customers": result.customers, "plans": result.plans, "refunds": result.refunds},
    )
    return result


def _date_before_first_plan(rng, customers, plans) -> None:
    """A customer joined some days before their first plan (created_at is set on insert, so it
    is moved afterwards), and so does the profile's "customer since"."""
    first_start = {}
    for plan in plans:
        first_start[plan.customer_id] = min(plan.start_date, first_start.get(plan.customer_id, plan.start_date))
    for customer in customers:
        joined = first_start[customer.pk] - datetime.timedelta(days=rng.randint(1, 60))
        customer.created_at = datetime.datetime.combine(joined, datetime.time(9), tzinfo=datetime.UTC) + (
            datetime.timedelta(minutes=rng.randint(0, 600))
        )
    Customer.objects.bulk_update(customers, ["created_at"])


def _date_before_processing(rng, refunds, now) -> None:
    """A refund was issued hours or days before a merchant processed it (created_at is set on
    insert, so it is moved afterwards)."""
    for refund in refunds:
        refund.created_at = (refund.processed_at or now) - datetime.timedelta(hours=rng.randint(2, 96))
    Refund.objects.bulk_update(refunds, ["created_at"])


def _webhook_events(rng) -> int:
    """Merchants' refund reports of every outcome, as the events page shows them: processed
    (a refund approved or moved on), ignored (a report repeated), unmatched (an unknown refund),
    one received and not yet processed, and one failed as an unexpected error leaves it."""
    open_refunds = list(
        Refund.objects.filter(status__in=[Refund.Status.PENDING, Refund.Status.PROCESSING], merchant__isnull=False)
        .select_related("merchant")
        .order_by("created_at", "pk")[:3]
    )
    if len(open_refunds) < 3:
        return 0
    received = []

    def report(refund_ref, merchant, status, *, process=True):
        event = WebhookEvent.objects.create(
            merchant=merchant,
            webhook_id=f"msg_demo_{uuid.UUID(int=rng.getrandbits(128)).hex}",
            payload={"refund_id": refund_ref, "status": status, "merchant_reference": ""},
            refund_ref=refund_ref,
            requested_status=status,
        )
        received.append(event)
        if process:
            process_event(event_id=event.pk)
        return event

    first, second, third = open_refunds
    report(first.transaction_id, first.merchant, "approved")
    report(first.transaction_id, first.merchant, "approved")  # a repeat: ignored
    report(second.transaction_id, second.merchant, "rejected")
    report("txn-unknown-to-the-back-office", third.merchant, "approved")  # unmatched
    report(third.transaction_id, third.merchant, "approved", process=False)  # waits for the cluster
    failed = report(third.transaction_id, third.merchant, "approved", process=False)
    WebhookEvent.objects.filter(pk=failed.pk).update(
        status=WebhookEvent.Status.FAILED,
        attempts=1,
        processed_at=timezone.now(),
        detail="OperationalError: could not serialize access due to concurrent update",
    )
    return len(received)


def _insert_installments(rows: list[tuple]) -> None:
    """Installments are most of the rows: multi-row INSERTs from tuples, without model instances.

    Each row: an unsaved Installment; a PAID one's payment is posted afterwards, in one go, by
    `backfill.post_paid_installments`.
    """
    table = Installment._meta.db_table
    columns = (
        "plan_id",
        "customer_id",
        "number",
        "amount_due",
        "amount_paid",
        "amount_refunded",
        "due_date",
        "status",
        "paid_at",
    )
    uuid_value = (lambda u: u.hex) if connection.vendor == "sqlite" else str
    adapt_datetime = connection.ops.adapt_datetimefield_value
    values = [
        (
            uuid_value(i.plan_id),
            i.customer_id,
            i.number,
            str(i.amount_due),
            str(i.amount_paid),
            str(i.amount_refunded),
            i.due_date.isoformat(),
            i.status,
            i.paid_at and adapt_datetime(i.paid_at),
        )
        for i in rows
    ]
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    chunk = 500  # stays under SQLite's bound-parameter limit
    with connection.cursor() as cursor:
        for start in range(0, len(values), chunk):
            part = values[start : start + chunk]
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([placeholders] * len(part)),
                [value for row in part for value in row],
            )


def _plans_and_refunds(rng, customers, merchants, today, now):
    plans, installments, refunds = [], [], []
    for customer in customers:
        delinquent = rng.random() < DELINQUENT_SHARE
        for _ in range(1 if delinquent else rng.choice([1, 1, 1, 2])):
            count = rng.choice(PLAN_COUNTS)
            # Delinquent customers started long enough ago to have missed an installment.
            age = rng.randint(45, 200) if delinquent else rng.randint(0, 330)
            start = today - datetime.timedelta(days=age)
            total = Decimal(rng.randint(300, 30_000) * 1000) + Decimal(rng.choice([0, 50, 99])) / 100
            plan = Plan(
                id=uuid.UUID(int=rng.getrandbits(128), version=4),
                customer=customer,
                merchant=rng.choice(merchants),
                total_amount=total,
                installment_count=count,
                start_date=start,
            )
            schedule = build_schedule(total, count, start)
            past_due = [number for number, _, due in schedule if due < today]
            # A delinquent customer stopped paying at some installment already due.
            first_missed = rng.choice(past_due) if delinquent and past_due else None
            rows = []
            for number, amount, due in schedule:
                row = Installment(
                    plan_id=plan.id, customer_id=customer.pk, number=number, amount_due=amount, due_date=due
                )
                if due < today and (first_missed is None or number < first_missed):
                    paid_on = due - datetime.timedelta(days=rng.randint(0, 5))
                    row.status, row.amount_paid = Installment.Status.PAID, amount
                    row.paid_at = datetime.datetime.combine(paid_on, NOON_UTC)
                rows.append(row)
            if all(row.status == Installment.Status.PAID for row in rows):
                plan.status = Plan.Status.COMPLETED
            plans.append(plan)
            if rng.random() < REFUND_SHARE:
                refund = _refund(rng, customer, plan, now)
                if refund.status == Refund.Status.APPROVED:
                    _apply(refund, plan, rows, now)
                refunds.append(refund)
            installments.extend(rows)
    return plans, installments, refunds


def _apply(refund: Refund, plan: Plan, rows: list[Installment], now) -> None:
    """Rule 8 on rows not yet inserted (the ledger's own arithmetic)."""
    refund.amount_applied = take_off_from_last(refund.amount, rows)
    refund.amount_to_customer = refund.amount - refund.amount_applied
    for row in rows:
        settle_installment(row, now=now)
    if refund.amount == plan.total_amount:
        plan.status = Plan.Status.CANCELLED
    elif all(row.amount_remaining == 0 for row in rows):
        plan.status = Plan.Status.COMPLETED


def _refund(rng, customer, plan, now) -> Refund:
    status = rng.choice(list(Refund.Status))
    amount = min(plan.total_amount, Decimal(rng.randint(50, 2000) * 1000))
    processed = status in (Refund.Status.APPROVED, Refund.Status.REJECTED)
    return Refund(
        id=uuid.UUID(int=rng.getrandbits(128), version=4),
        customer=customer,
        plan=plan,
        merchant=plan.merchant,
        transaction_id=f"txn-{customer.customer_id}-{rng.getrandbits(32):08x}",
        amount=amount,
        reason=rng.choice(REFUND_REASONS),
        merchant_reference=f"MR-{rng.getrandbits(40):010X}" if status != Refund.Status.PENDING else "",
        status=status,
        status_detail="Merchant reported " + status.lower() if status != Refund.Status.PENDING else "",
        processed_at=now - datetime.timedelta(days=rng.randint(0, 30)) if processed else None,
    )
