import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

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
        permissions = [("record_payment", "Can record a payment on an installment")]

    def __str__(self) -> str:
        return f"Plan {self.id} ({self.total_amount})"


class Installment(models.Model):
    class Status(models.TextChoices):
        UPCOMING = "UPCOMING", "Upcoming"
        PAID = "PAID", "Paid"
        OVERDUE = "OVERDUE", "Overdue"

    # No single-column index on either key: (plan, number) and (customer, status) lead with them,
    # and every index is one more write for each installment the overdue checker flips.
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="installments", db_index=False)
    # Denormalised from the plan: the overdue checker and debt lookups work per customer.
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="installments", db_index=False
    )
    number = models.PositiveSmallIntegerField()
    amount_due = models.DecimalField(max_digits=14, decimal_places=2)
    due_date = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPCOMING)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="installment_plan_number_unique"),
            models.CheckConstraint(condition=Q(amount_due__gt=0), name="installment_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["UPCOMING", "PAID", "OVERDUE"]), name="installment_status_valid"
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
