"""Template helpers shared by every page: money and dates as people read them."""

import datetime
from decimal import Decimal

from django import template
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils import timezone
from django.utils.html import format_html

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


@register.simple_tag
def status_badge(status, label=None) -> str:
    """`<span class="badge badge-debt_user">Debt user</span>`: the status badge of every page and table.

    Built in Python rather than included from a template: tables show one in every row.
    """
    return format_html(
        '<span class="badge badge-{}">{}</span>', str(status).lower(), label or str(status).replace("_", " ").title()
    )
