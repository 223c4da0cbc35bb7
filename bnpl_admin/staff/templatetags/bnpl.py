"""Template helpers shared by every page: money and dates as people read them."""

from decimal import Decimal

from django import template
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from bnpl_admin.text import short_id

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
def audit_value(value) -> str:
    """An audit event's value as a person reads it: a payment's allocations as "#1: 100.00, #2:
    50.00", other lists and mappings item by item, anything else as it is."""
    if isinstance(value, list):
        return ", ".join(audit_value(item) for item in value)
    if isinstance(value, dict):
        if "number" in value and "amount" in value:
            return f"#{value['number']}: {value['amount']}"
        return " ".join(f"{key}={audit_value(item)}" for key, item in value.items())
    return "" if value is None else str(value)


@register.simple_tag
def status_badge(status, label=None) -> str:
    """`<span class="badge badge-debt_user">Debt user</span>`: the status badge of every page and table."""
    return format_html(
        '<span class="badge badge-{}">{}</span>', str(status).lower(), label or str(status).replace("_", " ").title()
    )


register.filter("short_id", short_id)


@register.simple_tag
def id_code(value) -> str:
    """`<code title="3a3c8a71-ff57-...">3a3c8a71</code>`: an id short on the page, whole on hover."""
    return format_html('<code title="{}">{}</code>', value, short_id(value))


@register.simple_tag
def chart_bars(bars) -> str:
    """The `<rect>` of every bar of a stacked bar chart (see `dashboard.charts`), in one pass.

    A month of daily bars is a few hundred numbers: as template variables each one went through
    localisation (which SVG coordinates must not have anyway) and escaping (numbers need none).
    """
    rect = '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>'
    return mark_safe(  # the coordinates are made floats, the two strings are escaped
        "".join(
            rect.format(
                float(bar["x"]),
                float(bar["y"]),
                float(bar["width"]),
                float(bar["height"]),
                escape(bar["colour"]),
                escape(bar["title"]),
            )
            for bar in bars
        )
    )
