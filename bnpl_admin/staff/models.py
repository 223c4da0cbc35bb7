from django.conf import settings
from django.db import models


class FormSubmission(models.Model):
    """A used one-time form token: a double submit or a browser retry finds it and is sent to
    the first submission's result instead of doing the work again."""

    token = models.UUIDField(unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=64)
    result_url = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.action} {self.token}"
