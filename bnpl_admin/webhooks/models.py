from django.db import models
from django.db.models import Q


class Merchant(models.Model):
    """A merchant that reports refund outcomes by signed webhook (Standard Webhooks)."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    # Fernet tokens of `whsec_...` secrets; the previous one stays valid until it expires (rotation).
    webhook_secret_encrypted = models.TextField()
    previous_secret_encrypted = models.TextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class WebhookEvent(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "RECEIVED", "Received"
        PROCESSED = "PROCESSED", "Processed"
        IGNORED = "IGNORED", "Ignored"
        UNMATCHED = "UNMATCHED", "Unmatched"
        FAILED = "FAILED", "Failed"

    # Indexed by webhook_merchant_received, whose first column it is.
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="events", db_index=False)
    webhook_id = models.CharField(max_length=128)
    payload = models.JSONField()
    # From the payload, for filtering; the matched refund once processed.
    refund_ref = models.CharField(max_length=64, blank=True, default="")
    requested_status = models.CharField(max_length=16, blank=True, default="")
    refund = models.ForeignKey(
        "refunds.Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="webhook_events"
    )
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    detail = models.CharField(max_length=500, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "webhook_id"], name="webhook_event_unique_per_merchant"),
            models.CheckConstraint(
                condition=Q(status__in=["RECEIVED", "PROCESSED", "IGNORED", "UNMATCHED", "FAILED"]),
                name="webhook_event_status_valid",
            ),
        ]
        indexes = [
            # The event list, newest first, all or one merchant's (and a merchant's latest events, and
            # the last 24 hours' counts): read from an index, not sorted from every event there is.
            models.Index(fields=["received_at", "id"], name="webhook_event_received_id"),
            models.Index(fields=["merchant", "received_at", "id"], name="webhook_merchant_received"),
            models.Index(fields=["status", "received_at"], name="webhook_event_status_received"),
            models.Index(fields=["refund_ref"], name="webhook_event_refund_ref"),
        ]
        permissions = [("reprocess_webhookevent", "Can re-process a failed webhook event")]

    def __str__(self) -> str:
        return f"{self.merchant.code}/{self.webhook_id} ({self.status})"
