import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

# The outcome of a PENDING refund staff cancelled (it becomes REJECTED), in the API's words.
CANCELLED_BY_STAFF = "Cancelled by staff"


class Refund(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        PROCESSING = "PROCESSING", "Processing"
        APPROVED = "APPROVED", "Approved"
        REJECTED = "REJECTED", "Rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="refunds")
    plan = models.ForeignKey("plans.Plan", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds")
    # The merchant whose webhook may move this refund: the plan's, or the one named for a refund
    # without a plan; none means no merchant may.
    merchant = models.ForeignKey(
        "webhooks.Merchant", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    transaction_id = models.CharField(max_length=64, unique=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    reason = models.CharField(max_length=500, blank=True, default="")
    merchant_reference = models.CharField(max_length=128, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Why the status is what it is (e.g. "Cancelled by staff: duplicate order").
    status_detail = models.CharField(max_length=500, blank=True, default="")
    # REJECTED because staff cancelled it while PENDING (not the merchant); `reason` stays as issued.
    cancelled_by_staff = models.BooleanField(default=False, db_default=False)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Set when the refund is APPROVED (rule 8): the part taken off the plan's remaining amounts,
    # and the rest, money already paid that the provider owes the customer back.
    amount_applied = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    amount_to_customer = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["PENDING", "PROCESSING", "APPROVED", "REJECTED"]), name="refund_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(
                    status="APPROVED",
                    amount_applied__gte=0,
                    amount_to_customer__gte=0,
                    amount=F("amount_applied") + F("amount_to_customer"),
                )
                | Q(~Q(status="APPROVED"), amount_applied__isnull=True, amount_to_customer__isnull=True),
                name="refund_approved_is_split",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="refund_customer_created"),
            models.Index(fields=["status", "-created_at"], name="refund_status_created"),
        ]
        permissions = [("cancel_refund", "Can cancel a pending refund")]

    def __str__(self) -> str:
        return f"Refund {self.transaction_id} {self.amount} ({self.status})"

    @property
    def status_label(self) -> str:
        """The status as staff read it: a refund staff cancelled is "Cancelled by staff", not "Rejected"."""
        return CANCELLED_BY_STAFF if self.cancelled_by_staff else self.get_status_display()

    @property
    def stated_reason(self) -> str:
        """The API's `reason` (DESIGN.md): "Cancelled by staff" once staff cancelled it, else the
        reason it was issued with."""
        return CANCELLED_BY_STAFF if self.cancelled_by_staff else self.reason

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({Refund.Status.APPROVED, Refund.Status.REJECTED})

# Rule 5: the only moves a refund may make.
ALLOWED_TRANSITIONS = {
    Refund.Status.PENDING: frozenset({Refund.Status.PROCESSING, Refund.Status.APPROVED, Refund.Status.REJECTED}),
    Refund.Status.PROCESSING: frozenset({Refund.Status.APPROVED, Refund.Status.REJECTED}),
    Refund.Status.APPROVED: frozenset(),
    Refund.Status.REJECTED: frozenset(),
}
