"""Collections (rule 12): one case per debt episode, with its assignee, notes and promises to pay."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Case(models.Model):
    class Status(models.TextChoices):
        OPEN = "OPEN", "Open"
        CLOSED = "CLOSED", "Closed"

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="cases")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # The queue's sort keys, on the case so that an index orders the open cases: whether a promise
    # of the case was broken (set where promises break), and a copy of the customer's
    # overdue_since (set where it changes: the checker and the ledger).
    queue_broken = models.BooleanField(default=False)
    queue_overdue_since = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # A customer becoming DEBT_USER opens one case, never two, however many checkers run.
            models.UniqueConstraint(fields=["customer"], condition=Q(status="OPEN"), name="case_one_open_per_customer"),
            models.CheckConstraint(condition=Q(status__in=["OPEN", "CLOSED"]), name="case_status_valid"),
            models.CheckConstraint(
                condition=Q(status="OPEN", closed_at__isnull=True) | Q(status="CLOSED", closed_at__isnull=False),
                name="case_closed_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "assignee"], name="case_status_assignee"),
            # The queue (selectors.case_queue) and its sort by days past due: keyset-like reads.
            models.Index(
                F("queue_broken").desc(),
                "queue_overdue_since",  # ascending: PostgreSQL puts NULLs last, as the queue does
                "id",
                condition=Q(status="OPEN"),
                name="case_queue_order",
            ),
            models.Index(fields=["queue_overdue_since", "id"], condition=Q(status="OPEN"), name="case_queue_dpd"),
        ]
        permissions = [("work_case", "Can assign, note and record promises on collection cases")]

    def __str__(self) -> str:
        return f"Case {self.pk} ({self.status})"


class CaseNote(models.Model):
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    # As typed, except that any phone-, card- or passport-like number in it is stored masked.
    text = models.TextField()
    masked = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Note on case {self.case_id}"


class PromiseToPay(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        KEPT = "KEPT", "Kept"
        BROKEN = "BROKEN", "Broken"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="promises")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    due_date = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="promise_amount_positive"),
            models.CheckConstraint(condition=Q(status__in=["PENDING", "KEPT", "BROKEN"]), name="promise_status_valid"),
        ]
        # The checker's evaluation reads the pending ones only.
        indexes = [models.Index(fields=["due_date"], condition=Q(status="PENDING"), name="promise_pending_due")]

    def __str__(self) -> str:
        return f"Promise of {self.amount} by {self.due_date} ({self.status})"


class PortfolioSnapshot(models.Model):
    """Rule 10's figures as of a day, written by the checker's schedule so that the risk page, the
    API and the dashboard read one row instead of adding up every installment per request."""

    as_of = models.DateField(unique=True)
    computed_at = models.DateTimeField()
    total_outstanding = models.DecimalField(max_digits=16, decimal_places=2)
    # [{"bucket": "1-30", "customers": n, "outstanding": "123.45"}, ...] in bucket order.
    buckets = models.JSONField()
    par30 = models.DecimalField(max_digits=5, decimal_places=4)
    par60 = models.DecimalField(max_digits=5, decimal_places=4)
    par90 = models.DecimalField(max_digits=5, decimal_places=4)

    class Meta:
        ordering = ["-as_of"]

    def __str__(self) -> str:
        return f"Portfolio as of {self.as_of}"
