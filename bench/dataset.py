"""The benchmark data set: N customers, about one plan and three installments each, via COPY.

Customers still go through `customers.services.prepare_customer` (the one place that encrypts,
masks and hashes PII); only the writing differs from `seed_demo`: rows are generated in worker
processes as COPY text and streamed into PostgreSQL with foreign-key triggers off (the rows are
consistent by construction), which is several times faster than INSERTs into indexed tables.
Installments are all written UPCOMING or PAID (a PAID one with `amount_paid` = `amount_due`); an
APPROVED refund is applied to its plan's rows before they are written, with the ledger's own
arithmetic (`demo._apply`, as `seed_demo` does). After the COPY, `backfill.post_paid_installments`
gives every PAID installment its POSTED payment and allocation, and the product's own
`check_overdue` marks the missed ones OVERDUE and their customers DEBT_USER, so statuses and
amounts are exactly what the services make.
"""

from __future__ import annotations

import datetime
import io
import multiprocessing
import random
import sys
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from bnpl_admin.audit.services import Actor
from bnpl_admin.collection import portfolio
from bnpl_admin.collection.models import Case
from bnpl_admin.customers.models import Customer
from bnpl_admin.demo import seed as demo
from bnpl_admin.plans import backfill, balances
from bnpl_admin.plans.models import Installment, Payment, PaymentAllocation, Plan
from bnpl_admin.plans.schedule import build_schedule
from bnpl_admin.plans.services import check_overdue
from bnpl_admin.refunds.models import Refund
from bnpl_admin.webhooks.models import Merchant
from bnpl_admin.webhooks.services import add_merchant

# Bumped whenever the rows change: `run.py --reuse` rebuilds a data set of another version.
# 2: the money ledger (issue 19): installment amounts, payments and allocations, refund splits.
# 3: collections (issue 20): customers' hold columns, a case per debt user, the portfolio figures.
VERSION = "3"
CHUNK = 10_000
DELINQUENT_SHARE = 0.10
REFUND_SHARE = 0.08
INSTALLMENT_COUNTS = [2, 3, 3, 3, 4]  # three on average: ~3 installments per customer
BENCH_MERCHANT = "bench-merchant"
NOON_UTC = datetime.time(12, tzinfo=datetime.UTC)
# Room for every installment number of a customer's single plan in a fixed id range.
IDS_PER_CUSTOMER = 4


@dataclass
class DatasetInfo:
    customers: int
    plans: int
    installments: int
    refunds: int
    payments: int
    overdue_installments: int
    debt_customers: int
    anchor: str
    build_seconds: float


def _meta_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value text NOT NULL)")


def _write_meta(values: dict) -> None:
    _meta_table()
    with connection.cursor() as cursor:
        for key, value in values.items():
            cursor.execute(
                "INSERT INTO bench_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = %s",
                [key, str(value), str(value)],
            )


def _tsv(value) -> str:
    return r"\N" if value is None else str(value)


def _chunk_rows(args) -> tuple[int, str, str, str, str]:
    """COPY text for customers, plans, installments and refunds of customer numbers [start, stop)."""
    start, stop, width, seed, anchor_iso, merchant_ids = args
    anchor = datetime.date.fromisoformat(anchor_iso)
    now = datetime.datetime.combine(anchor, NOON_UTC)
    rng = random.Random(seed * 1_000_003 + start)
    people = demo._DemoPeople(rng)
    customers, plans, installments, refunds = io.StringIO(), io.StringIO(), io.StringIO(), io.StringIO()
    for number in range(start, stop):
        c = people.customer(number, f"usr-{number:0{width}d}", anchor)
        created = now - datetime.timedelta(days=400, seconds=-number)
        customers.write(
            "\t".join(
                map(
                    _tsv,
                    (
                        number,
                        c.customer_id,
                        c.full_name,
                        c.phone_encrypted,
                        c.phone_masked,
                        c.phone_hash,
                        c.passport_encrypted,
                        c.passport_masked,
                        c.card_encrypted,
                        c.card_masked,
                        c.date_of_birth,
                        "NORMAL",
                        created.isoformat(),
                        created.isoformat(),
                        "",
                        "0.00",  # the amounts owed: stored by balances.refresh once the plans are in
                        "0.00",
                    ),
                )
            )
            + "\n"
        )
        delinquent = rng.random() < DELINQUENT_SHARE
        count = rng.choice(INSTALLMENT_COUNTS)
        # Delinquent customers started long enough ago to have missed their first installment;
        # the others started any time in the last five months (upcoming dues spread over months).
        age = rng.randint(35, 50) if delinquent else rng.randint(0, 150)
        plan_start = anchor - datetime.timedelta(days=age)
        total = Decimal(rng.randint(300, 30_000) * 1000) + Decimal(rng.choice([0, 50, 99])) / 100
        plan_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        rows = []
        for n, amount, due in build_schedule(total, count, plan_start):
            status, paid, paid_at = "UPCOMING", Decimal("0.00"), None
            if due < anchor and not delinquent:
                status, paid = "PAID", amount
                paid_at = datetime.datetime.combine(due - datetime.timedelta(days=rng.randint(0, 5)), NOON_UTC)
            rows.append(((number - 1) * IDS_PER_CUSTOMER + n, n, amount, due, status, paid, Decimal("0.00"), paid_at))
        plan_status = "COMPLETED" if all(row[4] == "PAID" for row in rows) else "ACTIVE"
        plan_created = datetime.datetime.combine(plan_start, NOON_UTC)
        merchant_id = rng.choice(merchant_ids)
        if rng.random() < REFUND_SHARE:
            # The same random draws, in the same order, as before the ledger: the same refunds.
            status = rng.choice(["PENDING", "PROCESSING", "APPROVED", "REJECTED"])
            processed = status in ("APPROVED", "REJECTED")
            refund_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            transaction_id = f"txn-{c.customer_id}-{rng.getrandbits(32):08x}"
            refund_amount = min(total, Decimal(rng.randint(50, 2000) * 1000))
            reason = rng.choice(demo.REFUND_REASONS)
            merchant_reference = f"MR-{rng.getrandbits(40):010X}" if status != "PENDING" else ""
            applied = to_customer = None
            if status == "APPROVED":
                rows, plan_status, applied, to_customer = _approve(rows, plan_status, total, refund_amount, now)
            refunds.write(
                "\t".join(
                    map(
                        _tsv,
                        (
                            refund_id,
                            number,
                            plan_id,
                            merchant_id,  # a refund on a plan is the plan's merchant's
                            transaction_id,
                            refund_amount,
                            reason,
                            merchant_reference,
                            status,
                            f"Merchant reported {status.lower()}" if status != "PENDING" else "",
                            now.isoformat() if processed else None,
                            None,
                            now.isoformat(),
                            now.isoformat(),
                            applied,
                            to_customer,
                        ),
                    )
                )
                + "\n"
            )
        for row_id, n, amount, due, status, paid, refunded, paid_at in rows:
            installments.write(
                f"{row_id}\t{plan_id}\t{number}\t{n}\t{amount}\t{paid}\t{refunded}\t{due}\t{status}\t"
                f"{_tsv(paid_at and paid_at.isoformat())}\n"
            )
        plans.write(
            f"{plan_id}\t{number}\t{merchant_id}\t{total}\t{count}\t"
            f"{plan_status}\t{plan_start}\t\\N\t{plan_created.isoformat()}\n"
        )
    return stop - start, customers.getvalue(), plans.getvalue(), installments.getvalue(), refunds.getvalue()


def _approve(rows: list[tuple], plan_status: str, total: Decimal, amount: Decimal, now):
    """Rule 8 on one plan's rows before they are written: `seed_demo`'s own `_apply` on unsaved
    instances (the ledger's arithmetic, one copy of it); returns the rows, the plan's status and
    the refund's amount_applied and amount_to_customer."""
    objects = [
        Installment(
            id=row_id,
            number=n,
            amount_due=due_amount,
            amount_paid=paid,
            amount_refunded=refunded,
            due_date=due,
            status=status,
            paid_at=paid_at,
        )
        for row_id, n, due_amount, due, status, paid, refunded, paid_at in rows
    ]
    plan = Plan(total_amount=total, status=plan_status)
    refund = Refund(amount=amount, status=Refund.Status.APPROVED)
    demo._apply(refund, plan, objects, now)
    rows = [
        (i.id, i.number, i.amount_due, i.due_date, i.status, i.amount_paid, i.amount_refunded, i.paid_at)
        for i in objects
    ]
    return rows, plan.status, refund.amount_applied, refund.amount_to_customer


LEDGER_TABLES = (Payment._meta.db_table, PaymentAllocation._meta.db_table)
CUSTOMER_COLUMNS = (
    "id, customer_id, full_name, phone_encrypted, phone_masked, phone_hash, passport_encrypted, "
    "passport_masked, card_encrypted, card_masked, date_of_birth, status, created_at, updated_at, hold_reason, "
    "outstanding_amount, overdue_amount"
)
PLAN_COLUMNS = (
    "id, customer_id, merchant_id, total_amount, installment_count, status, start_date, created_by_id, created_at"
)
INSTALLMENT_COLUMNS = (
    "id, plan_id, customer_id, number, amount_due, amount_paid, amount_refunded, due_date, status, paid_at"
)
REFUND_COLUMNS = (
    "id, customer_id, plan_id, merchant_id, transaction_id, amount, reason, merchant_reference, status, status_detail, "
    "processed_at, created_by_id, created_at, updated_at, amount_applied, amount_to_customer"
)


def build(*, customers: int, seed: int = 42, workers: int = 2) -> DatasetInfo:
    """Fill an empty, migrated database with the benchmark data set."""
    started = time.perf_counter()
    anchor = timezone.localdate()
    demo.ensure_demo_accounts()
    demo.ensure_demo_merchants()
    if not Merchant.objects.filter(code=BENCH_MERCHANT).exists():
        add_merchant(code=BENCH_MERCHANT, name="Benchmark merchant", actor=Actor.system("bench"))
    merchant_ids = list(Merchant.objects.values_list("id", flat=True))
    width = max(3, len(str(customers)))
    tasks = [
        (start, min(start + CHUNK, customers + 1), width, seed, anchor.isoformat(), merchant_ids)
        for start in range(1, customers + 1, CHUNK)
    ]
    raw = connection.cursor().connection  # psycopg's own connection: COPY FROM STDIN
    with raw.cursor() as cur:
        # Rows reference each other correctly by construction: skip the per-row FK triggers.
        cur.execute("SET session_replication_role = replica")
    with (
        multiprocessing.get_context("fork").Pool(workers) as pool,
        tqdm(total=customers, unit="customers", desc="bnpl_bench", file=sys.stderr) as bar,
    ):
        for done, c_rows, p_rows, i_rows, r_rows in pool.imap(_chunk_rows, tasks):
            with raw.cursor() as cur:
                for table, columns, rows in (
                    ("customers_customer", CUSTOMER_COLUMNS, c_rows),
                    ("plans_plan", PLAN_COLUMNS, p_rows),
                    ("plans_installment", INSTALLMENT_COLUMNS, i_rows),
                    ("refunds_refund", REFUND_COLUMNS, r_rows),
                ):
                    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        copy.write(rows)
            raw.commit()
            bar.update(done)
    with raw.cursor() as cur:
        for table in ("customers_customer", "plans_installment"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        # Statistics for the backfill's joins over the rows just written.
        cur.execute("ANALYZE plans_installment")
    raw.commit()
    print("posting the payments of PAID installments (backfill.post_paid_installments) ...", file=sys.stderr)
    with transaction.atomic():
        # Still without FK triggers: every payment and allocation refers to rows just written.
        payments = backfill.post_paid_installments(Installment, Payment, PaymentAllocation)
    with raw.cursor() as cur:
        cur.execute("SET session_replication_role = origin")
    raw.commit()
    print("storing what each customer owes (balances.refresh) ...", file=sys.stderr)
    balances.refresh(Customer.objects.all())
    print("marking missed installments overdue (check_overdue) ...", file=sys.stderr)
    overdue = check_overdue(as_of=anchor, actor=Actor.system("bench"))
    portfolio.refresh(as_of=anchor)
    print("VACUUM ANALYZE ...", file=sys.stderr)
    old_autocommit = raw.autocommit
    raw.autocommit = True
    with raw.cursor() as cur:
        for table in (
            "customers_customer",
            "plans_plan",
            "plans_installment",
            "refunds_refund",
            *LEDGER_TABLES,
            Case._meta.db_table,
        ):
            cur.execute(f"VACUUM ANALYZE {table}")
    raw.autocommit = old_autocommit
    info = DatasetInfo(
        customers=customers,
        plans=customers,
        installments=_count("plans_installment"),
        refunds=_count("refunds_refund"),
        payments=payments,
        overdue_installments=overdue.installments_marked_overdue,
        debt_customers=overdue.customers_marked_debt,
        anchor=anchor.isoformat(),
        build_seconds=round(time.perf_counter() - started, 1),
    )
    _write_meta({**info.__dict__, "seed": seed, "version": VERSION, "complete": 1})
    return info


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


def info_from_meta(meta: dict[str, str]) -> DatasetInfo:
    return DatasetInfo(
        customers=int(meta["customers"]),
        plans=int(meta["plans"]),
        installments=int(meta["installments"]),
        refunds=int(meta["refunds"]),
        payments=int(meta.get("payments", 0)),
        overdue_installments=int(meta["overdue_installments"]),
        debt_customers=int(meta["debt_customers"]),
        anchor=meta["anchor"],
        build_seconds=float(meta["build_seconds"]),
    )
