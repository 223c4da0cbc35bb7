"""Small server-rendered SVG charts: geometry computed here, drawn by the template (no JS library)."""

from __future__ import annotations

import datetime

from bnpl_admin.plans.models import Installment
from bnpl_admin.refunds.models import Refund

COLOURS = {
    "PENDING": "#c98a00",
    "PROCESSING": "#6b7fd7",
    "APPROVED": "#1d7a46",
    "REJECTED": "#c62f3b",
    "PAID": "#1d7a46",
    "UPCOMING": "#2f5bea",
    "OVERDUE": "#c62f3b",
    "CANCELLED": "#8a8f98",
}


def refunds_by_status(counts: dict[str, int], *, width: int = 420, bar_height: int = 22, gap: int = 10) -> dict:
    label_width, value_width = 96, 56
    span = width - label_width - value_width
    biggest = max(counts.values(), default=0) or 1
    bars = []
    for index, status in enumerate(Refund.Status.values):
        n = counts.get(status, 0)
        bars.append(
            {
                "label": status.title(),
                "value": n,
                "x": label_width,
                "y": index * (bar_height + gap),
                "width": max(1, round(span * n / biggest)) if n else 0,
                "height": bar_height,
                "colour": COLOURS[status],
                "text_y": index * (bar_height + gap) + bar_height * 0.7,
                "value_x": label_width + (round(span * n / biggest) if n else 0) + 6,
            }
        )
    return {"width": width, "height": len(bars) * (bar_height + gap) - gap, "bars": bars, "label_width": label_width}


def installments_by_day(
    by_day: dict[str, dict[str, int]], *, today: datetime.date, days: int = 30, width: int = 640, height: int = 180
) -> dict:
    """Stacked bars per due date from `today - days` to `today + days`: paid, overdue, upcoming,
    cancelled (refunded or written off)."""
    dates = [today + datetime.timedelta(days=offset) for offset in range(-days, days + 1)]
    order = [
        Installment.Status.PAID,
        Installment.Status.OVERDUE,
        Installment.Status.UPCOMING,
        Installment.Status.CANCELLED,
    ]
    totals = [sum(by_day.get(d.isoformat(), {}).values()) for d in dates]
    biggest = max(totals, default=0) or 1
    plot_height = height - 24
    step = width / len(dates)
    bars = []
    for index, day in enumerate(dates):
        counts = by_day.get(day.isoformat(), {})
        y = plot_height
        for status in order:
            n = counts.get(status, 0)
            if not n:
                continue
            h = plot_height * n / biggest
            y -= h
            bars.append(
                {
                    "x": round(index * step + 1, 1),
                    "y": round(y, 1),
                    "width": round(max(step - 2, 1), 1),
                    "height": round(h, 1),
                    "colour": COLOURS[status],
                    "title": f"{day:%Y-%m-%d}: {n} {status.lower()}",
                }
            )
    today_x = round(days * step + step / 2, 1)
    sums = {status: sum(by_day.get(d.isoformat(), {}).get(status, 0) for d in dates) for status in order}
    return {
        "width": width,
        "height": height,
        "plot_height": plot_height,
        "bars": bars,
        "today_x": today_x,
        "max": biggest,
        "legend": [(status.title(), COLOURS[status], sums[status]) for status in order],
        "first": dates[0],
        "last": dates[-1],
    }


BUCKET_COLOURS = ("#d49a00", "#e0672a", "#c62f3b", "#7d1420")  # 1-30 .. 90+: later is darker


def outstanding_by_bucket(buckets, *, width: int = 420, bar_height: int = 22, gap: int = 10) -> dict:
    """Horizontal bars of the amount outstanding per delinquency bucket (rule 10), from the
    snapshot's figures (`collection.selectors.BucketFigures`), each labelled with its amount."""
    from bnpl_admin.staff.templatetags.bnpl import money

    label_width, value_width = 64, 150
    span = width - label_width - value_width
    biggest = max((bucket.outstanding for bucket in buckets), default=0) or 1
    bars = []
    for index, bucket in enumerate(buckets):
        length = round(span * bucket.outstanding / biggest) if bucket.outstanding else 0
        y = index * (bar_height + gap)
        bars.append(
            {
                "label": bucket.label,
                "value": money(bucket.outstanding),
                "customers": bucket.customers,
                "x": label_width,
                "y": y,
                "width": max(1, length) if bucket.outstanding else 0,
                "height": bar_height,
                "colour": BUCKET_COLOURS[index % len(BUCKET_COLOURS)],
                "text_y": y + bar_height * 0.7,
                "value_x": label_width + length + 6,
            }
        )
    return {"width": width, "height": max(len(bars) * (bar_height + gap) - gap, 0), "bars": bars}
