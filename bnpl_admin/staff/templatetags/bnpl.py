"""Template helpers shared by every page: money and dates as people read them."""

import datetime
from decimal import Decimal

from django import template
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils import timezone

register = template.Library()


@register.filter
def money(value) -> str:
    """`Decimal("1250000.5")` -> `1,250,000.50 UZS`."""
    if value is None or value == "":
        return "—"
    amount = Decimal(value).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    whole, cents = f"{abs(amount):.2f}".split(".")
    return f"{sign}{intcomma(int(whole))}.{cents} {settings.CURRENCY}"


@register.filter
def days_since(value) -> int | str:
    """Whole days from a date to today (in TIME_ZONE)."""
    if not isinstance(value, datetime.date):
        return ""
    return (timezone.localdate() - value).days


@register.inclusion_tag("components/status_badge.html")
def status_badge(status, label=None):
    return {"status": status, "label": label or str(status).replace("_", " ").title()}
