"""Table columns shared by the back office's django-tables2 tables, and their base Table."""

import copy
import datetime
import functools
from collections import OrderedDict
from urllib.parse import quote

import django_tables2 as tables
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import RFC3986_SUBDELIMS

from bnpl_admin.staff.html import format_html

# A key reverse() leaves as it is, standing for the record's own key in a URL pattern.
_KEY = "record-key-0f4c"


@functools.lru_cache(maxsize=64)
def _url_around_key(viewname: str, script_prefix: str) -> tuple[str, str] | None:
    """The URL's text before and after its one key, or None when the key is not any text (`<int:...>`)."""
    try:
        before, _, after = reverse(viewname, args=[_KEY]).partition(_KEY)
    except NoReverseMatch:
        return None
    return before, after


def record_url(viewname: str, key) -> str:
    """`reverse(viewname, args=[key])` for a view taking one path segment, reversed once per
    process: one `reverse()` per row was a tenth of a 25-row page's time."""
    key = str(key)
    around = _url_around_key(viewname, get_script_prefix())
    if around is None or not key or "/" in key:  # reverse() decides (and may refuse)
        return reverse(viewname, args=[key])
    return around[0] + quote(key, safe=RFC3986_SUBDELIMS + "/~:@") + around[1]


class RecordLinkColumn(tables.Column):
    """The value as a link to `viewname` of the record's `key` (what `linkify=(viewname, [A(key)])` shows)."""

    def __init__(self, *, viewname: str, key: str, **kwargs):
        self.viewname, self.key = viewname, key
        super().__init__(**kwargs)

    def render(self, value, record):
        return format_html('<a href="{}">{}</a>', record_url(self.viewname, getattr(record, self.key)), value)

    def value(self, value):  # exports: the text, not the link
        return value


class FormattedDateColumn(tables.Column):
    """A date or datetime shown with a Django date format, in the current time zone.

    What `DateColumn`/`DateTimeColumn` show, rendered in Python: those are template columns, one
    template render per cell, a tenth of a 25-row page's time.
    """

    def __init__(self, *, format: str, **kwargs):
        self.format = format
        super().__init__(**kwargs)

    def render(self, value):
        return self.render_for_table()(value)

    def render_for_table(self):
        """`render` for the cells of one table: the current time zone looked up once, not per cell
        (`timezone.localtime` looks it up in a context-local on every call)."""
        zone, format = timezone.get_current_timezone(), self.format

        def render(value):
            if isinstance(value, datetime.datetime) and timezone.is_aware(value):
                value = value.astimezone(zone)  # what timezone.localtime(value) does
            if format == "Y-m-d":  # the same text as date_format's, without its per-call lookups
                return (value.date() if isinstance(value, datetime.datetime) else value).isoformat()
            return date_format(value, format)

        return render


class _ColumnCopies(OrderedDict):
    """A table class's columns, copied for each table by `copy.copy` instead of `copy.deepcopy`.

    django-tables2 deep-copies every column of the class for each table it makes, so that a table
    can change its columns without touching the class; the only change it makes is `visible`
    (`columns.hide()`/`show()`), an attribute of the column itself. A shallow copy of each column,
    with its own `attrs`, keeps that apart as well, at a fraction of the cost (the deep copy was a
    tenth of the exact-phone page).
    """

    def __deepcopy__(self, memo):
        copies = OrderedDict()
        for name, column in self.items():
            copied = copy.copy(column)
            copied.attrs = copy.deepcopy(column.attrs, memo)
            copies[name] = copied
        return copies


class Table(tables.Table):
    """django-tables2's Table, with the columns copied for each table as `_ColumnCopies` says."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.base_columns = _ColumnCopies(cls.base_columns)
