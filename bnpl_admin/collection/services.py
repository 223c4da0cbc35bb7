"""Writes to collection cases (rule 12): opened and closed with the customer's debt status, worked
by the risk team (assignee, notes, promises to pay), promises evaluated by the checker's schedule.

Cases open and close where statuses change: `customers.services.change_status` (one customer) and
`open_cases_for_new_debt` (the overdue checker, set-based). The partial unique index on open
cases makes a second open case for a customer impossible, whoever races.
"""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import F, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from bnpl_admin.audit import services as audit
from bnpl_admin.audit.services import Actor
from bnpl_admin.collection.models import Case, CaseNote, PromiseToPay
from bnpl_admin.customers.masking import mask_free_text
from bnpl_admin.money import parse_amount
from bnpl_admin.text import storable

MAX_NOTE = 2000
MAX_PROMISE_DAYS = 90
WORK_PERMISSION = "collection.work_case"


class CaseError(Exception):
    """Base class of the collection domain's refusals."""


class CaseNotFound(CaseError):
    pass


class InvalidCaseAction(CaseError):
    pass


def open_case(customer, *, now: datetime.datetime | None = None) -> Case:
    """The customer's open case, opened now when there is none (the customer row is locked)."""
    existing = Case.objects.filter(customer=customer, status=Case.Status.OPEN).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            return Case.objects.create(
                customer=customer, opened_at=now or timezone.now(), queue_overdue_since=customer.overdue_since
            )
    except IntegrityError:
        return Case.objects.get(customer=customer, status=Case.Status.OPEN)


def close_case(customer, *, now: datetime.datetime | None = None) -> int:
    """Close the customer's open case (the customer is NORMAL again); returns how many closed."""
    return Case.objects.filter(customer=customer, status=Case.Status.OPEN).update(
        status=Case.Status.CLOSED, closed_at=now or timezone.now()
    )


def open_cases_for_new_debt(*, now: datetime.datetime) -> int:
    """Set-based, for the checker: one open case for each DEBT_USER customer without one."""
    from bnpl_admin.customers.models import Customer

    cases, customers = Case._meta.db_table, Customer._meta.db_table
    opened_at = Case._meta.get_field("opened_at").get_db_prep_value(now, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {cases} (customer_id, status, opened_at, queue_broken, queue_overdue_since) "
            f"SELECT c.id, 'OPEN', %s, FALSE, c.overdue_since FROM {customers} c WHERE c.status = 'DEBT_USER' "
            f"AND NOT EXISTS (SELECT 1 FROM {cases} k WHERE k.customer_id = c.id AND k.status = 'OPEN')",
            [opened_at],
        )
        return cursor.rowcount


def evaluate_promises(*, as_of: datetime.date, now: datetime.datetime) -> tuple[int, int]:
    """Set-based, for the checker: a PENDING promise is KEPT once the customer's payments POSTED
    since it was made, up to its date, reach its amount; BROKEN once its date has passed otherwise.
    Returns (kept, broken)."""
    from bnpl_admin.plans.models import Payment

    paid = (
        Payment.objects.filter(
            customer=OuterRef("case__customer"),
            status=Payment.Status.POSTED,
            received_at__gte=OuterRef("created_at"),
            received_at__date__lte=OuterRef("due_date"),
        )
        .order_by()
        .values("customer")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    pending = PromiseToPay.objects.filter(status=PromiseToPay.Status.PENDING)
    kept_ids = pending.annotate(paid=Subquery(paid)).filter(paid__gte=F("amount")).values("pk")
    kept = PromiseToPay.objects.filter(pk__in=kept_ids).update(status=PromiseToPay.Status.KEPT, evaluated_at=now)
    breaking = pending.filter(due_date__lt=as_of)
    Case.objects.filter(pk__in=breaking.values("case"), queue_broken=False).update(queue_broken=True)
    broken = breaking.update(status=PromiseToPay.Status.BROKEN, evaluated_at=now)
    return kept, broken


def sync_queue_overdue_since(*, customers=None) -> int:
    """Copy the customers' `overdue_since` to their open cases where it differs (the queue's sort
    key): set-based for the checker, or for the customers of a queryset or list of pks."""
    from bnpl_admin.customers.models import Customer

    since = Customer.objects.filter(pk=OuterRef("customer_id")).values("overdue_since")[:1]
    cases = Case.objects.filter(status=Case.Status.OPEN)
    if customers is not None:
        cases = cases.filter(customer__in=customers)
    differs = Q(queue_overdue_since__isnull=True, customer__overdue_since__isnull=False) | Q(
        queue_overdue_since__isnull=False, customer__overdue_since__isnull=True
    )
    differs |= ~Q(queue_overdue_since=F("customer__overdue_since"))
    return Case.objects.filter(pk__in=cases.filter(differs).values("pk")).update(queue_overdue_since=Subquery(since))


# The risk team's actions on a case.


def _locked_open_case(case_id) -> Case:
    try:
        case = Case.objects.select_for_update(of=("self",)).select_related("customer").get(pk=int(case_id))
    except (TypeError, ValueError, Case.DoesNotExist):
        raise CaseNotFound(f"Case {case_id} not found") from None
    if case.status != Case.Status.OPEN:
        raise InvalidCaseAction("The case is closed")
    return case


@transaction.atomic
def assign(*, case_id, assignee_username: str | None, actor: Actor) -> Case:
    """Give the case to a user who may work cases, or to nobody (`None`)."""
    case = _locked_open_case(case_id)
    assignee = None
    if assignee_username:
        assignee = get_user_model().objects.filter(username=assignee_username, is_active=True).first()
        if assignee is None or not assignee.has_perm(WORK_PERMISSION):
            raise InvalidCaseAction(f"{assignee_username} cannot work collection cases")
    before = case.assignee.get_username() if case.assignee else None
    case.assignee = assignee
    case.save(update_fields=["assignee"])
    audit.record(
        actor=actor,
        action="case.assigned",
        target_type="case",
        target_id=case.pk,
        customer_ref=case.customer.customer_id,
        data={"from": before, "to": assignee.get_username() if assignee else None},
    )
    return case


@transaction.atomic
def add_note(*, case_id, text: str, actor: Actor) -> CaseNote:
    """A free-text note; a phone, card or passport number typed into it is stored masked."""
    text = (text or "").strip() if isinstance(text, str) else ""
    if not text:
        raise InvalidCaseAction("A note cannot be empty")
    if len(text) > MAX_NOTE:
        raise InvalidCaseAction(f"A note must be at most {MAX_NOTE} characters")
    if not storable(text):
        raise InvalidCaseAction("The note contains characters that cannot be stored")
    case = _locked_open_case(case_id)
    stored = mask_free_text(text)
    note = CaseNote.objects.create(
        case=case, author=actor.user, text=stored, masked=stored != text, created_at=timezone.now()
    )
    audit.record(
        actor=actor,
        action="case.note_added",
        target_type="case",
        target_id=case.pk,
        customer_ref=case.customer.customer_id,
        data={"note": stored, "masked": note.masked},
    )
    return note


def check_promise_date(due_date) -> None:
    """A promise falls due between today and MAX_PROMISE_DAYS ahead; InvalidCaseAction otherwise."""
    today = timezone.localdate()
    if not isinstance(due_date, datetime.date) or isinstance(due_date, datetime.datetime):
        raise InvalidCaseAction("due_date must be a date")
    if not today <= due_date <= today + datetime.timedelta(days=MAX_PROMISE_DAYS):
        raise InvalidCaseAction(f"due_date must be between today and {MAX_PROMISE_DAYS} days ahead")


@transaction.atomic
def add_promise(*, case_id, amount, due_date: datetime.date, actor: Actor) -> PromiseToPay:
    """A promise to pay `amount` by `due_date` (today to MAX_PROMISE_DAYS ahead)."""
    try:
        amount = parse_amount(amount)
    except ValueError as exc:
        raise InvalidCaseAction(str(exc)) from None
    check_promise_date(due_date)
    case = _locked_open_case(case_id)
    promise = PromiseToPay.objects.create(
        case=case, amount=amount, due_date=due_date, created_by=actor.user, created_at=timezone.now()
    )
    audit.record(
        actor=actor,
        action="case.promise_added",
        target_type="case",
        target_id=case.pk,
        customer_ref=case.customer.customer_id,
        data={"amount": str(amount), "due_date": due_date.isoformat()},
    )
    return promise
