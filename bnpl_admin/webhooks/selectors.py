"""Reads of merchants and their webhook events."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count

from bnpl_admin.webhooks.models import Merchant, WebhookEvent


@dataclass(frozen=True)
class MerchantOverview:
    merchant: Merchant
    counts: dict[str, int]  # events received since the cut-off, by status (lower case), 0 for none
    recent: list[WebhookEvent]  # the latest events, newest first


def merchant_overview(*, since: datetime.datetime, recent: int = 5) -> list[MerchantOverview]:
    """Every merchant with its events' counts since `since` and its latest events.

    The counts come from one grouped read of the events received since then (an index range on
    `received_at`), not from a join of every merchant with every event it ever sent, whose cost
    grew with the whole history; each merchant's latest events are an index range of their own.
    """
    grouped = (
        WebhookEvent.objects.filter(received_at__gte=since)
        .order_by()
        .values_list("merchant_id", "status")
        .annotate(n=Count("id"))
    )
    counts = {(merchant_id, status): n for merchant_id, status, n in grouped}
    return [
        MerchantOverview(
            merchant=merchant,
            counts={status.lower(): counts.get((merchant.pk, status), 0) for status in WebhookEvent.Status.values},
            recent=list(merchant.events.order_by("-received_at", "-id")[:recent]),
        )
        for merchant in Merchant.objects.order_by("code")
    ]
