"""django-q2 task: forget Idempotency-Keys older than 24 hours."""

from bnpl_admin.api.idempotency import purge_expired


def purge_expired_idempotency_keys() -> int:
    return purge_expired()
