"""Table columns shared by the back office's django-tables2 tables."""

import datetime

import django_tables2 as tables
from django.utils import timezone
from django.utils.formats import date_format


class FormattedDateColumn(tables.Column):
    """A date or datetime shown with a Django date format, in the current time zone.

    What `DateColumn`/`DateTimeColumn` show, rendered in Python: those are template columns, one
    template render per cell, a tenth of a 25-row page's time.
    """

    def __init__(self, *, format: str, **kwargs):
        self.format = format
        super().__init__(**kwargs)

    def render(self, value):
        if isinstance(value, datetime.datetime) and timezone.is_aware(value):
            value = timezone.localtime(value)
        return date_format(value, self.format)
