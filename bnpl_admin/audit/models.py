from django.conf import settings
from django.db import models


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ValueError("AuditEvent is append-only")

    def delete(self):
        raise ValueError("AuditEvent is append-only")


class AuditEvent(models.Model):
    """One thing that happened, by whom, to what. Append-only: never updated or deleted."""

    class ActorKind(models.TextChoices):
        STAFF = "staff", "Staff user"
        SYSTEM = "system", "System"
        MERCHANT = "merchant", "Merchant"

    at = models.DateTimeField()
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32)
    target_id = models.CharField(max_length=64)
    # The customer this event concerns (external customer_id), for the profile timeline.
    customer_ref = models.CharField(max_length=64, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["customer_ref", "-at"], name="audit_customer_at"),
            # The log lists newest first, ties (the events one overdue check writes at one instant)
            # by id: these indexes give that order without sorting (staff.tables.in_total_order).
            models.Index(fields=["at", "id"], name="audit_at_id"),
            models.Index(fields=["action", "at", "id"], name="audit_action_at_id"),
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target_type}:{self.target_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("AuditEvent is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("AuditEvent is append-only")
