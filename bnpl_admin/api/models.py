from django.conf import settings
from django.db import models


class IdempotencyKey(models.Model):
    """An `Idempotency-Key` seen on a POST, scoped to the token owner and the endpoint.

    Written IN_FLIGHT in its own transaction before the work (so a concurrent request with the
    same key gets 409), and COMPLETED with the response in the same transaction as the work (so
    a rolled-back request never leaves a stored success behind). Kept 24 hours.
    """

    class State(models.TextChoices):
        IN_FLIGHT = "IN_FLIGHT", "In flight"
        COMPLETED = "COMPLETED", "Completed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    endpoint = models.CharField(max_length=200)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    locked_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "endpoint", "key"], name="idempotency_key_unique")]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.endpoint} {self.key} ({self.state})"
