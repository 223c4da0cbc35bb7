"""Writes to customers: creation with encrypted PII, status changes, audited PII reveal."""

from __future__ import annotations

import datetime
import re

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from bnpl_admin.audit import services as audit
from bnpl_admin.audit.services import Actor
from bnpl_admin.collection import services as collection_services
from bnpl_admin.customers import encryption, masking, selectors
from bnpl_admin.customers.errors import (
    CustomerAlreadyExists,
    CustomerNotFound,
    InvalidCustomer,
    InvalidOverride,
    UnknownPiiField,
)
from bnpl_admin.customers.models import Customer

# Field name in the contract -> (encrypted column, masked column).
PII_FIELDS = {
    "phone_number": ("phone_encrypted", "phone_masked"),
    "passport_number": ("passport_encrypted", "passport_masked"),
    "card_number": ("card_encrypted", "card_masked"),
}


# Rules for a new customer's fields typed by people (the API applies them field by field).
CUSTOMER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def _customer_id(value: str) -> str:
    if not CUSTOMER_ID.match(value):
        raise InvalidCustomer("customer_id", "Use letters, digits, '-', '_' or '.' (at most 64)")
    return value


def _full_name(value: str) -> str:
    if not value.strip():
        raise InvalidCustomer("full_name", "This field may not be blank.")
    return value.strip()


def _masked_or_refused(field: str, mask, message: str):
    def check(value: str) -> str:
        if mask(value) in ("", masking.FULL_MASK):
            raise InvalidCustomer(field, message)
        return value

    return check


def _date_of_birth(value: datetime.date | None) -> datetime.date | None:
    if value is not None and value >= timezone.localdate():
        raise InvalidCustomer("date_of_birth", "Must be in the past")
    if value is not None and value.year < 1900:
        raise InvalidCustomer("date_of_birth", "Must be after 1900")
    return value


NEW_CUSTOMER_RULES = {
    "customer_id": _customer_id,
    "full_name": _full_name,
    "phone_number": _masked_or_refused(
        "phone_number", masking.mask_phone, "Not a valid phone number (e.g. +998901234567)"
    ),
    "passport_number": _masked_or_refused(
        "passport_number", masking.mask_passport, "Not a valid passport number (e.g. AA1234567)"
    ),
    "card_number": _masked_or_refused(
        "card_number", masking.mask_card_number, "Not a valid card number (12 to 19 digits)"
    ),
    "date_of_birth": _date_of_birth,
}


def check_new_customer_field(field: str, value):
    """The value a new customer's `field` gets (trimmed where the rules trim), or InvalidCustomer."""
    return NEW_CUSTOMER_RULES[field](value)


def prepare_customer(
    *,
    customer_id: str,
    full_name: str,
    phone_number: str,
    passport_number: str,
    card_number: str,
    date_of_birth: datetime.date | None,
    status: str = Customer.Status.NORMAL,
) -> Customer:
    """An unsaved Customer with its PII encrypted, masked and hashed (also used for bulk inserts)."""
    phone = masking.normalize_phone(phone_number)
    passport = (passport_number or "").strip().upper()
    card = "".join((card_number or "").split())
    return Customer(
        customer_id=customer_id,
        full_name=full_name.strip(),
        phone_encrypted=encryption.encrypt(phone),
        phone_masked=masking.mask_phone(phone),
        phone_hash=encryption.lookup_hash(phone),
        passport_encrypted=encryption.encrypt(passport),
        passport_masked=masking.mask_passport(passport),
        card_encrypted=encryption.encrypt(card),
        card_masked=masking.mask_card_number(card),
        date_of_birth=date_of_birth,
        status=status,
    )


def create_customer(
    *,
    customer_id: str,
    full_name: str,
    phone_number: str,
    passport_number: str,
    card_number: str,
    date_of_birth: datetime.date | None,
    actor: Actor,
) -> Customer:
    """Create a customer, audited; CustomerAlreadyExists for a taken id. Values are stored as given
    (imports may lack a field): callers taking input from people check NEW_CUSTOMER_RULES first."""
    customer = prepare_customer(
        customer_id=customer_id,
        full_name=full_name,
        phone_number=phone_number,
        passport_number=passport_number,
        card_number=card_number,
        date_of_birth=date_of_birth,
    )
    try:
        with transaction.atomic():
            customer.save()
            audit.record(
                actor=actor,
                action="customer.created",
                target_type="customer",
                target_id=customer.customer_id,
                customer_ref=customer.customer_id,
                data={"phone_number": customer.phone_masked, "card_number": customer.card_masked},
            )
    except IntegrityError as exc:
        if Customer.objects.filter(customer_id=customer_id).exists():
            raise CustomerAlreadyExists(customer_id) from exc
        raise
    return customer


def lock_customer(customer_id: str) -> Customer:
    """The customer row, locked until the surrounding transaction ends."""
    return selectors.get_customer(customer_id, for_update=True)


# Any fixed 64-bit number: the key of the PostgreSQL advisory lock that orders debt-status changes.
_DEBT_STATUS_LOCK_KEY = 0x424E504C_4F564400


def hold_debt_status_lock(*, exclusive: bool = False) -> None:
    """PostgreSQL: hold the debt-status lock until the surrounding transaction ends.

    The overdue checker holds it exclusively: it flips installments and then customers in two
    set-based steps without locking every customer first. Payments and manual overrides, which
    lock a customer and then its installments, hold it shared, so they run either wholly before
    or wholly after a checker run (never interleaved, never deadlocked with it), while any
    number of them run side by side. SQLite serialises writers, so it needs no lock.
    """
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [_DEBT_STATUS_LOCK_KEY])


def change_status(*, customer: Customer, status: str, reason: str, actor: Actor) -> bool:
    """Set a locked customer's status and audit it; returns False when it was already so."""
    if customer.status == status:
        return False
    before = customer.status
    customer.status = status
    customer.save(update_fields=["status", "updated_at"])
    # Rule 12: a debt episode is one collection case.
    if status == Customer.Status.DEBT_USER:
        collection_services.open_case(customer)
    else:
        collection_services.close_case(customer)
    audit.record(
        actor=actor,
        action="customer.status_changed",
        target_type="customer",
        target_id=customer.customer_id,
        customer_ref=customer.customer_id,
        data={"from": before, "to": status, "reason": reason},
    )
    return True


MAX_HOLD_DAYS = 90


@transaction.atomic
def override_status(
    *, customer_id: str, status: str, reason: str, actor: Actor, hold_until: datetime.date | None = None
) -> Customer:
    """A risk officer's manual status change; the reason is mandatory.

    Setting an overdue customer NORMAL is a hold (rule 11): it names the last day (`hold_until`,
    today to MAX_HOLD_DAYS ahead) until which the overdue checker leaves the customer NORMAL. Any
    other override ends a hold.
    """
    if status not in Customer.Status.values:
        raise InvalidOverride(f"Unknown status {status!r}")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidOverride("A reason is required")
    hold_debt_status_lock()
    customer = lock_customer(customer_id)
    overdue = customer.installments.filter(status="OVERDUE").exists()
    hold = status == Customer.Status.NORMAL and overdue
    if hold:
        today = timezone.localdate()
        if hold_until is None:
            raise InvalidOverride(
                "This customer has an overdue installment: setting them NORMAL needs a hold date "
                f"(at most {MAX_HOLD_DAYS} days ahead)"
            )
        if not today <= hold_until <= today + datetime.timedelta(days=MAX_HOLD_DAYS):
            raise InvalidOverride(f"The hold date must be between today and {MAX_HOLD_DAYS} days ahead")
    change_status(customer=customer, status=status, reason=f"Manual override: {reason}", actor=actor)
    if hold:
        _set_hold(customer, until=hold_until, reason=reason, actor=actor)
    elif customer.hold_until is not None:
        end_hold(customer, reason=f"Manual override: {reason}", actor=actor)
    return customer


def _set_hold(customer: Customer, *, until: datetime.date, reason: str, actor: Actor) -> None:
    customer.hold_until, customer.hold_reason, customer.hold_set_by = until, reason, actor.user
    customer.save(update_fields=["hold_until", "hold_reason", "hold_set_by", "updated_at"])
    audit.record(
        actor=actor,
        action="customer.hold_set",
        target_type="customer",
        target_id=customer.customer_id,
        customer_ref=customer.customer_id,
        data={"hold_until": until.isoformat(), "reason": reason},
    )


def end_hold(customer: Customer, *, reason: str, actor: Actor) -> None:
    """End a locked customer's hold before its date (a payment cleared the debt, another override)."""
    until = customer.hold_until
    customer.hold_until, customer.hold_reason, customer.hold_set_by = None, "", None
    customer.save(update_fields=["hold_until", "hold_reason", "hold_set_by", "updated_at"])
    audit.record(
        actor=actor,
        action="customer.hold_ended",
        target_type="customer",
        target_id=customer.customer_id,
        customer_ref=customer.customer_id,
        data={"hold_until": until.isoformat() if until else None, "reason": reason},
    )


def reveal_pii(*, customer_id: str, field: str, actor: Actor) -> str:
    """Decrypt one field of one customer for a permitted user; every reveal is audited."""
    if field not in PII_FIELDS:
        raise UnknownPiiField(field)
    selectors.refuse_unstorable_id(customer_id)
    encrypted_column, _ = PII_FIELDS[field]
    try:
        customer = Customer.objects.only("customer_id", encrypted_column).get(customer_id=customer_id)
    except Customer.DoesNotExist:
        raise CustomerNotFound(customer_id) from None
    value = encryption.decrypt(getattr(customer, encrypted_column))
    audit.record(
        actor=actor,
        action="customer.pii_revealed",
        target_type="customer",
        target_id=customer_id,
        customer_ref=customer_id,
        data={"field": field},
    )
    return value


def rotate_encryption(*, batch_size: int = 1000) -> int:
    """Re-encrypt every customer's PII under the newest key; returns the number of rows rewritten."""
    columns = [encrypted for encrypted, _ in PII_FIELDS.values()]
    rewritten = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            batch = list(
                Customer.objects.select_for_update()
                .filter(pk__gt=last_pk)
                .order_by("pk")
                .only("pk", *columns)[:batch_size]
            )
            if not batch:
                return rewritten
            for customer in batch:
                for column in columns:
                    setattr(customer, column, encryption.rotate(getattr(customer, column)))
            Customer.objects.bulk_update(batch, columns)
            rewritten += len(batch)
            last_pk = batch[-1].pk
