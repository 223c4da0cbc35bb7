"""django-q2 tasks for merchant webhooks (thin: the rules live in webhooks.services)."""

from bnpl_admin.webhooks import services


def process_webhook_event(event_id: int) -> str | None:
    event = services.process_event(event_id=event_id)
    return event.status if event else None


def requeue_stale_webhook_events() -> int:
    return services.requeue_stale_events()
