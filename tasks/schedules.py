"""The project's django-q2 schedules, registered by `migrate` (idempotently, updated in place)."""

SCHEDULES = [
    {
        "name": "check-overdue",
        "func": "tasks.overdue.run_check_overdue",
        "minutes": 5,
    },
    {
        "name": "requeue-stale-webhook-events",
        "func": "tasks.webhooks.requeue_stale_webhook_events",
        "minutes": 1,
    },
    {
        "name": "refresh-dashboard-figures",
        "func": "tasks.dashboard.refresh_dashboard_figures",
        "minutes": 1,
    },
    {
        "name": "purge-expired-idempotency-keys",
        "func": "tasks.api.purge_expired_idempotency_keys",
        "minutes": 60,
    },
]


def register_schedules(*, using: str = "default") -> None:
    from django_q.models import Schedule

    for spec in SCHEDULES:
        Schedule.objects.using(using).update_or_create(
            name=spec["name"],
            defaults={
                "func": spec["func"],
                "schedule_type": Schedule.MINUTES,
                "minutes": spec["minutes"],
                "repeats": -1,
            },
        )
