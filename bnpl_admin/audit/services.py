"""The one place that records audit events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.text import stored_form


@dataclass(frozen=True)
class Actor:
    """Who performs an action: a staff user, the system (schedules, commands) or a merchant."""

    kind: str
    label: str
    user: Any = None

    @classmethod
    def staff(cls, user) -> Actor:
        return cls(kind=AuditEvent.ActorKind.STAFF, label=user.get_username(), user=user)

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(kind=AuditEvent.ActorKind.SYSTEM, label=label)

    @classmethod
    def merchant(cls, merchant) -> Actor:
        return cls(kind=AuditEvent.ActorKind.MERCHANT, label=f"merchant:{merchant.code}")

    @classmethod
    def from_request(cls, request) -> Actor:
        return cls.staff(request.user)

    @property
    def user_id(self):
        return self.user.pk if self.user is not None else None


def record(
    *, actor: Actor, action: str, target_type: str, target_id: Any, customer_ref: str = "", data: dict | None = None
) -> AuditEvent:
    """Append an audit event. `data` must never hold raw PII: pass masked values only."""
    return AuditEvent.objects.create(
        **_fields(actor, action, target_type, target_id, customer_ref, data), at=timezone.now()
    )


def record_many(
    *, actor: Actor, action: str, target_type: str, events: list[tuple[Any, str, dict]]
) -> list[AuditEvent]:
    """Append one event per (target_id, customer_ref, data), in order, with one INSERT."""
    at = timezone.now()
    return AuditEvent.objects.bulk_create(
        AuditEvent(**_fields(actor, action, target_type, target_id, customer_ref, data), at=at)
        for target_id, customer_ref, data in events
    )


def _fields(actor: Actor, action: str, target_type: str, target_id: Any, customer_ref: str, data) -> dict:
    return {
        "actor_kind": actor.kind,
        "actor_user_id": actor.user_id,
        "actor_label": actor.label,
        "action": action,
        "target_type": target_type,
        "target_id": str(target_id),
        "customer_ref": customer_ref,
        "data": data or {},
    }


# Filters whose value is text an agent typed: it may hold anything (a card number, say).
_FREE_TEXT_FILTERS = ("q",)


# The most of a filter's value an export's audit event keeps.
_FILTER_VALUE_LENGTH = 200


def _kept(value: str) -> str:
    """A filter's value as the audit keeps it: its first 200 characters, with what PostgreSQL cannot
    store (a NUL, which a URL can carry) replaced."""
    return stored_form(value[:_FILTER_VALUE_LENGTH])


def record_export(*, actor: Actor, export_name: str, filters: dict[str, str], rows: int) -> AuditEvent:
    """An export of a table: who, which table, its filters and its rows. A free-text search is
    recorded as present only; a phone number never reaches the filters (the search turns it into
    its lookup hash)."""
    shown = {name: "(search text)" if name in _FREE_TEXT_FILTERS else _kept(value) for name, value in filters.items()}
    return record(
        actor=actor,
        action="table.exported",
        target_type="export",
        target_id=export_name,
        data={"rows": rows, "query": shown},
    )
