"""The base of the back office's django-tables2 tables: rows in a total order, read in chunks."""

import datetime
import hashlib

import django_tables2 as tables
from django.utils import timezone
from django.utils.formats import date_format
from django_tables2.data import TableQuerysetData

# Rows per database fetch when a whole table is read (a CSV export).
CHUNK_ROWS = 2_000


def _sort_key_name(term) -> str | None:
    """The field an ordering term sorts by ("-at" -> "at", F("at").desc() -> "at"), else None."""
    if isinstance(term, str):
        return term.lstrip("-")
    expression = getattr(term, "expression", term)
    return getattr(expression, "name", None)


def in_total_order(queryset, tiebreaker: str):
    """`queryset` with `tiebreaker` (a unique field) as its last sort key, unless it sorts by it.

    Rows that tie on the sorted columns (the same day overdue, the same status, the 100,000 audit
    events one overdue check writes at one instant) are otherwise returned in whatever order the
    database's plan reads them, and the plan changes with the OFFSET (a top-N sort for deep
    pages): pages would repeat some rows and never show others. The key takes the direction of
    the first sort key, so that an index on (sorted column, key) serves both directions.
    """
    query = queryset.query
    if query.order_by:
        ordering = list(query.order_by)
    elif query.default_ordering:
        ordering = list(query.get_meta().ordering)
    else:
        ordering = []
    if not ordering or "?" in ordering:
        return queryset
    pk = queryset.model._meta.pk.name
    unique = {pk, "pk"} if tiebreaker in (pk, "pk") else {tiebreaker}
    if unique & {_sort_key_name(term) for term in ordering}:
        return queryset
    first = ordering[0]
    descending = first.startswith("-") if isinstance(first, str) else getattr(first, "descending", False)
    return queryset.order_by(*ordering, f"-{tiebreaker}" if descending else tiebreaker)


class TotallyOrderedRows(TableQuerysetData):
    """A table's queryset, sorted as django-tables2 sorts it and then by the table's `tiebreaker`
    (see `in_total_order`); a whole table (an export) is read from the database in chunks."""

    def order_by(self, aliases):
        super().order_by(aliases)
        self.data = in_total_order(self.data, self.table.tiebreaker)

    def __iter__(self):
        return self.data.iterator(chunk_size=CHUNK_ROWS)


class Table(tables.Table):
    """django-tables2's Table, its rows in a total order whatever column they are sorted by."""

    # A unique field of the rows, the last sort key of every ordering (see `in_total_order`).
    tiebreaker = "pk"

    class Meta:
        # The header's sorting links swap the table through htmx (the rows' links open their page).
        attrs = {"class": "table", "thead": {"hx-boost": "true"}}

    def __init__(self, data=None, *args, **kwargs):
        if TableQuerysetData.validate(data):
            data = TotallyOrderedRows(data)
        super().__init__(data, *args, **kwargs)

    # What the rows are, for the result count: set by the page's view (staff.views.TableMixin).
    rows_named = ("row", "rows")

    def result_count(self) -> str:
        """ "Customers 26 to 50 of more" before the last page, "3 customers" or "Customers 26 to 31 of 31"
        on it: exact without a COUNT(*), from the page's rows and whether a next page exists."""
        page = getattr(self, "page", None)
        shown = len(page.object_list) if page else 0
        if not shown:
            return ""
        one, many = self.rows_named
        first = (page.number - 1) * self.paginator.per_page + 1
        last = first + shown - 1
        if page.has_next():
            return f"{many.capitalize()} {first} to {last} of more"
        if page.number == 1:
            return f"{last} {one if last == 1 else many}"
        return f"{many.capitalize()} {first} to {last} of {last}"

    def fingerprint(self) -> str:
        """What this page of the table shows, as the key of its `{% cache %}` fragment: the table,
        its columns, sort and page, the query its links carry, the day (cells relative to today)
        and every row's own fields and column values. Equal fingerprints render equal HTML, so a
        cached table is never stale; it holds as long as cells are rendered from those alone
        (a `render_FOO` reads its value and the record's own fields, never the request).

        django-tables2 renders each cell through several calls and a template; this costs one
        pass over the page's values instead.
        """
        page = getattr(self, "page", None)
        parts = [
            type(self).__qualname__,
            [column.name for column in self.columns],
            str(self.order_by),
            (page.number, page.has_previous(), page.has_next()) if page else None,
            self.request.get_full_path() if getattr(self, "request", None) else None,
            timezone.localdate(),
        ]
        for row in self.paginated_rows:
            record = row.record
            own = record if isinstance(record, dict) else vars(record)
            parts.append(sorted((key, value) for key, value in own.items() if not key.startswith("_")))
            parts.append([column.accessor.resolve(record, quiet=True) for column in self.columns])
        return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


class FormattedDateColumn(tables.Column):
    """A date or a moment shown with a Django date format, in the current time zone: the text of
    django-tables2's DateColumn, made by `render` instead of a template compiled for every cell."""

    def __init__(self, *, format: str, **kwargs):
        self.format = format
        super().__init__(**kwargs)

    def render(self, value):
        if isinstance(value, datetime.datetime) and timezone.is_aware(value):
            value = timezone.localtime(value)
        return date_format(value, self.format)
