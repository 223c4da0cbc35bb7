from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q


class Customer(models.Model):
    """A BNPL customer (the seeds call them "users"). Raw PII exists only encrypted.

    Phone, passport and card number are stored as Fernet tokens (`*_encrypted`) with their masked
    forms beside them, so that lists and exports never decrypt; `phone_hash` allows an exact phone
    lookup. Write them through `customers.services`, never directly.
    """

    class Status(models.TextChoices):
        NORMAL = "NORMAL", "Normal"
        DEBT_USER = "DEBT_USER", "Debt user"

    # Unique through Meta.constraints: `unique=True` would add a second, LIKE-pattern index that
    # nothing uses (the search's `istartswith` cannot) and every insert and status flip writes.
    customer_id = models.CharField(max_length=64)
    full_name = models.CharField(max_length=200)
    phone_encrypted = models.TextField(blank=True, default="")
    phone_masked = models.CharField(max_length=32, blank=True, default="")
    phone_hash = models.CharField(max_length=64, blank=True, default="")
    passport_encrypted = models.TextField(blank=True, default="")
    passport_masked = models.CharField(max_length=32, blank=True, default="")
    card_encrypted = models.TextField(blank=True, default="")
    card_masked = models.CharField(max_length=32, blank=True, default="")
    date_of_birth = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NORMAL)
    # Due date of the oldest OVERDUE installment (None when there is none), kept by check_overdue
    # and record_payment so that the risk review can list debt users oldest first through an index.
    overdue_since = models.DateField(null=True, blank=True)
    # Rule 11: a risk override to NORMAL while overdue holds until this day (inclusive): the
    # checker leaves the customer NORMAL until then. Cleared when the hold ends.
    hold_until = models.DateField(null=True, blank=True)
    hold_reason = models.CharField(max_length=500, blank=True, default="")
    # No index: nothing looks customers up by who set a hold, and every index is one more write
    # for each customer the overdue checker flips.
    hold_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # What the open installments leave to pay, and the overdue part of it: kept by plans.balances
    # (the ledger, create_plan, the checker), so that the list sorts by them through an index.
    outstanding_amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    overdue_amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["customer_id"]
        constraints = [
            models.UniqueConstraint(fields=["customer_id"], name="customer_customer_id_unique"),
            models.CheckConstraint(condition=Q(status__in=["NORMAL", "DEBT_USER"]), name="customer_status_valid"),
            models.CheckConstraint(
                condition=Q(hold_until__isnull=True) | Q(status="NORMAL"), name="customer_hold_only_when_normal"
            ),
        ]
        indexes = [
            # Exact match only: a plain index, without the LIKE index `db_index=True` would add.
            models.Index(fields=["phone_hash"], name="customer_phone_hash"),
            models.Index(fields=["status", "customer_id"], name="customer_status_id"),
            # Deep pages of the API list find their rows' keys by an index-only scan (the unique
            # index on customer_id alone would read a table row per skipped position).
            models.Index(fields=["customer_id", "id"], name="customer_id_pk"),
            models.Index(fields=["status", "overdue_since", "customer_id"], name="customer_status_overdue_since"),
            # The customers list sorted by days past due, whatever the status.
            models.Index(fields=["overdue_since", "customer_id"], name="customer_overdue_since"),
            # ... and by who owes most.
            models.Index(fields=["outstanding_amount", "customer_id"], name="customer_outstanding"),
            models.Index(fields=["overdue_amount", "customer_id"], name="customer_overdue_amount"),
            # And, on PostgreSQL, the search's: migration 0006_search_indexes.
        ]
        permissions = [
            ("reveal_pii", "Can reveal one personal-data field of a customer"),
            ("override_status", "Can override a customer's status"),
            ("review_debt", "Can review debt users"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.full_name}"

    @property
    def is_debt_user(self) -> bool:
        return self.status == self.Status.DEBT_USER

    def on_hold(self, today) -> bool:
        return self.hold_until is not None and self.hold_until >= today
