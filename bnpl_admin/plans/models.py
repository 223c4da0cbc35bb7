import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from bnpl_admin.plans.schedule import MAX_INSTALLMENTS, MIN_INSTALLMENTS


class Plan(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        COMPLETED = "COMPLETED", "Completed"
        CANCELLED = "CANCELLED", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="plans")
    merchant = models.ForeignKey(
        "webhooks.Merchant", null=True, blank=True, on_delete=models.PROTECT, related_name="plans"
    )
    total_amount = models.DecimalField(max_digits=14, decimal_places=2)
    installment_count = models.PositiveSmallIntegerField(default=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    start_date = models.DateField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(total_amount__gt=0), name="plan_total_positive"),
            models.CheckConstraint(
                condition=Q(installment_count__gte=MIN_INSTALLMENTS, installment_count__lte=MAX_INSTALLMENTS),
                name="plan_installment_count_range",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["ACTIVE", "COMPLETED", "CANCELLED"]), name="plan_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["customer", "-created_at"], name="plan_customer_created")]
        permissions = [
            ("record_payment", "Can record a payment on an installment"),
            ("cancel_plan", "Can cancel a plan without payments"),
        ]

    def __str__(self) -> str:
        return f"Plan {self.id} ({self.total_amount})"


MONEY = {"max_digits": 14, "decimal_places": 2}


class Installment(models.Model):
    class Status(models.TextChoices):
        UPCOMING = "UPCOMING", "Upcoming"
        PAID = "PAID", "Paid"
        OVERDUE = "OVERDUE", "Overdue"
        # Nothing remaining and nothing paid: refunded, or the plan was cancelled.
        CANCELLED = "CANCELLED", "Cancelled"

    # No single-column index on either key: (plan, number) and (customer, status) lead with them,
    # and every index is one more write for each installment the overdue checker flips.
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="installments", db_index=False)
    # Denormalised from the plan: the overdue checker and debt lookups work per customer.
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="installments", db_index=False
    )
    number = models.PositiveSmallIntegerField()
    # Set at creation, never changed: payments and refunds move the two amounts below.
    amount_due = models.DecimalField(**MONEY)
    amount_paid = models.DecimalField(**MONEY, default=0)
    # Taken off by approved refunds, or written off when the plan is cancelled.
    amount_refunded = models.DecimalField(**MONEY, default=0)
    # Computed by the database, so it can never disagree with the three amounts it comes from.
    amount_remaining = models.GeneratedField(
        expression=F("amount_due") - F("amount_paid") - F("amount_refunded"),
        output_field=models.DecimalField(**MONEY),
        db_persist=True,
    )
    due_date = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPCOMING)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="installment_plan_number_unique"),
            models.CheckConstraint(condition=Q(amount_due__gt=0), name="installment_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount_paid__gte=0, amount_refunded__gte=0)
                & Q(amount_due__gte=F("amount_paid") + F("amount_refunded")),
                name="installment_amounts_within_due",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["UPCOMING", "PAID", "OVERDUE", "CANCELLED"]), name="installment_status_valid"
            ),
            # The status says what the amounts say: open while something remains, PAID or CANCELLED
            # (by whether anything was paid) once nothing does.
            models.CheckConstraint(
                condition=(
                    Q(status__in=["UPCOMING", "OVERDUE"], amount_due__gt=F("amount_paid") + F("amount_refunded"))
                    | Q(status="PAID", amount_paid__gt=0, amount_due=F("amount_paid") + F("amount_refunded"))
                    | Q(status="CANCELLED", amount_paid=0, amount_due=F("amount_refunded"))
                ),
                name="installment_status_matches_amounts",
            ),
            models.CheckConstraint(
                condition=Q(status="PAID", paid_at__isnull=False) | ~Q(status="PAID"),
                name="installment_paid_has_paid_at",
            ),
        ]
        indexes = [
            # The overdue checker: UPCOMING installments by due date.
            models.Index(fields=["due_date"], condition=Q(status="UPCOMING"), name="installment_upcoming_due"),
            # Debt status and the checker's "customer has an OVERDUE installment".
            models.Index(
                fields=["customer", "due_date"], condition=Q(status="OVERDUE"), name="installment_overdue_cust"
            ),
            models.Index(fields=["customer", "status"], name="installment_customer_status"),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.amount_due} due {self.due_date} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


OPEN_STATUSES = frozenset({Installment.Status.UPCOMING, Installment.Status.OVERDUE})


class Payment(models.Model):
    """Money received from a customer; its allocations say which installments it paid."""

    class Method(models.TextChoices):
        CARD = "card", "Card"
        CASH = "cash", "Cash"
        BANK_TRANSFER = "bank_transfer", "Bank transfer"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        POSTED = "POSTED", "Posted"
        REVERSED = "REVERSED", "Reversed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexes are few on purpose: every one is a write per payment. The customer's is the
    # (customer, received_at) one below; nothing looks payments up by who recorded or reversed them.
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="payments", db_index=False
    )
    amount = models.DecimalField(**MONEY)
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.OTHER)
    # The payer's or the processor's id: the same reference is the same payment.
    reference = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.POSTED)
    received_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    reversal_reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=Q(status__in=["POSTED", "REVERSED"]), name="payment_status_valid"),
            models.CheckConstraint(
                condition=Q(method__in=["card", "cash", "bank_transfer", "other"]), name="payment_method_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="REVERSED", reversed_at__isnull=False)
                | Q(status="POSTED", reversed_at__isnull=True),
                name="payment_reversal_has_time",
            ),
        ]
        indexes = [models.Index(fields=["customer", "-received_at"], name="payment_customer_received")]
        permissions = [("reverse_payment", "Can reverse a posted payment")]

    def __str__(self) -> str:
        return f"Payment {self.reference} {self.amount} ({self.status})"


class PaymentAllocation(models.Model):
    # The unique (payment, installment) index serves lookups by payment.
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations", db_index=False)
    installment = models.ForeignKey(Installment, on_delete=models.PROTECT, related_name="allocations")
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["payment", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive"),
            models.UniqueConstraint(fields=["payment", "installment"], name="allocation_payment_installment_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} to installment {self.installment_id}"
