"""CSV exports of the back office's tables, streamed from the database to the browser.

`?_export=csv` on a table page (django-tables2's trigger, kept) answers with every filtered,
sorted row. django-tables2's own export builds the whole file in memory (a tablib Dataset) and
inspects each cell's value method on every cell: 100,000 rows took ~25 s and ~250 MB, and a
million would have passed gunicorn's worker timeout. Here the rows come from a database cursor in
chunks and leave as CSV text chunk by chunk, each cell computed as `Table.as_values()` computes it
(`value_FOO`, `render_FOO`, `Column.value`, `get_FOO_display`), with what the library works out
per cell worked out once per column. Memory stays flat; time is linear and measured in
bench/RESULTS.md. An export past `EXPORT_MAX_ROWS` is refused before it starts, so that a file is
never cut short: the agent narrows the filter instead.
"""

import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.contrib import messages
from django.http import StreamingHttpResponse
from django.utils.encoding import force_str
from django.utils.http import urlencode
from django_tables2.columns import Column
from django_tables2.data import TableQuerysetData
from django_tables2.rows import BoundRow

from bnpl_admin.audit import services as audit
from bnpl_admin.audit.services import Actor
from bnpl_admin.staff.columns import VALUE, CellFunction, CellLookup

CSV = "csv"
# Rows per database fetch and per chunk of CSV sent.
CHUNK_ROWS = 2_000


class _ColumnValue:
    """One column's export value for any record, as `BoundRow.get_cell_value` gives it."""

    def __init__(self, table, bound_column):
        self.table = table
        self.bound_column = bound_column
        self.column = column = bound_column.column
        self.lookup = CellLookup(bound_column)
        function = bound_column.value  # value_FOO, else render_FOO, else Column.value
        if getattr(function, "__func__", None) is Column.value:
            # The library's Column.value calls the column's render with the arguments it takes.
            function = column.render
        self.value = CellFunction(function, column)
        # The value as it is: Column.render returns it.
        self.as_is = getattr(self.value.function, "__func__", None) is Column.render

    def __call__(self, record):
        if not self.lookup.applies_to(record):
            return BoundRow(record, table=self.table).get_cell_value(self.bound_column.name)
        value = self.lookup.value(record)
        if self.lookup.is_empty(value):
            return None
        if self.as_is:
            return value
        if self.value.takes is VALUE:
            return self.value.function(value=value)
        return self.value(value, record, self._others, record)

    def _others(self, record) -> dict:
        others = {"column": self.column, "bound_column": self.bound_column, "table": self.table}
        args = self.value.args
        if args is None or "bound_row" in args:  # made only for a function that takes it
            others["bound_row"] = BoundRow(record, table=self.table)
        return others


# Spreadsheets run a cell that starts with one of these as a formula (CSV injection: a customer
# named `=HYPERLINK(...)`, or `-2+3+cmd|...`, acting in the agent's spreadsheet).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Text that cannot call anything: digits, spaces and arithmetic signs only (an amount, a masked
# phone `+998****4567`). Left as it is; any other text starting as a formula is quoted.
_INERT = re.compile(r"[\d\s*+\-.,/]*")


def spreadsheet_safe(text: str) -> str:
    """`text`, with a leading `'` when a spreadsheet would otherwise run it as a formula (OWASP's
    advice for CSV injection); spreadsheets show the text without the quote."""
    if text.startswith(_FORMULA_START) and not _INERT.fullmatch(text):
        return "'" + text
    return text


def _text(value):
    """The cell as `as_values` gives it (`force_str(value, strings_only=True)`), text made
    `spreadsheet_safe`: numbers, dates and None stay as they are."""
    if not isinstance(value, str):
        value = force_str(value, strings_only=True)
        if not isinstance(value, str):
            return value
    return spreadsheet_safe(value)


def export_rows(table, records: Iterable, exclude_columns=()) -> Iterator[list]:
    """The header, then one row per record: what `table.as_values(exclude_columns)` yields for a
    table of these records (every column, hidden ones included, but those excluded from export).
    The columns are worked out at once; the records are read as the rows are taken."""
    bound_columns = [
        column
        for column in table.columns.iterall()
        if not (column.column.exclude_from_export or column.name in exclude_columns)
    ]
    header = [force_str(column.header, strings_only=True) for column in bound_columns]
    values = [_ColumnValue(table, column) for column in bound_columns]
    rows = ([_text(value(record)) for value in values] for record in records)
    return itertools.chain([header], rows)


def csv_chunks(rows: Iterable[list], chunk_rows: int | None = None) -> Iterator[bytes]:
    """`rows` as UTF-8 CSV (the csv module's default dialect, as tablib writes it), in chunks of
    `chunk_rows` lines (default CHUNK_ROWS)."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    rows = iter(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    while chunk := list(itertools.islice(rows, chunk_rows)):
        writer.writerows(chunk)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()


def table_records(table) -> Iterable:
    """Every record of the table in its order, fetched from the database in chunks."""
    data = table.data
    if isinstance(data, TableQuerysetData):
        return data.data.iterator(chunk_size=CHUNK_ROWS)
    return iter(data)


def _streamed(rows: Iterator[list], records: Iterable) -> Iterator[bytes]:
    """The rows as CSV chunks. When the response is closed early (the browser went away, and the
    WSGI server closes it), the records' database cursor is closed at once, not when collected."""
    try:
        yield from csv_chunks(rows)
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()


class CsvExportMixin:
    """`?_export=csv` on a django-tables2 + django-filter view: the filtered, sorted rows as a
    streamed CSV download, audited; refused (the page, status 400, with a message) past
    `EXPORT_MAX_ROWS` rows. `export_url` in the page's context is the link for the current query."""

    export_name = "table"
    export_trigger_param = "_export"
    exclude_columns = ()

    def get_context_data(self, **kwargs):
        params = self.request.GET.copy()
        params.pop("page", None)
        params[self.export_trigger_param] = CSV
        export_url = f"{self.request.path}?{urlencode(sorted(params.lists()), doseq=True)}"
        return {**super().get_context_data(**kwargs), "export_url": export_url}

    def render_to_response(self, context, **kwargs):
        if self.request.GET.get(self.export_trigger_param) != CSV:
            return super().render_to_response(context, **kwargs)
        table = context["table"]
        limit = settings.EXPORT_MAX_ROWS
        rows = self._count(table, limit)
        if rows > limit:
            messages.error(
                self.request,
                f"This export would have more than {limit:,} rows. "
                "Narrow the search or the filters, then export again.",
            )
            # The page's sort and page links are made from the query: without the export in it.
            self.request.GET = self.request.GET.copy()
            del self.request.GET[self.export_trigger_param]
            return super().render_to_response(context, status=400, **kwargs)
        actor = Actor.from_request(self.request)
        audit.record_export(actor=actor, export_name=self.export_name, filters=self._filters(table), rows=rows)
        records = table_records(table)  # read as the rows are sent
        rows = export_rows(table, records, self.exclude_columns)  # the header and columns worked out here
        response = StreamingHttpResponse(_streamed(rows, records), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.export_name}.{CSV}"'
        return response

    @staticmethod
    def _count(table, limit: int) -> int:
        """The number of rows, counted no further than one past `limit`."""
        data = table.data
        if isinstance(data, TableQuerysetData):
            return data.data.order_by()[: limit + 1].count()
        return len(data)

    def _filters(self, table) -> dict[str, str]:
        """The filters and the sort the export applied (each name's last value), as the query gave
        them; any other parameter of the URL is no part of the export, and not recorded."""
        filterset = getattr(self, "filterset", None)
        applied = {*(filterset.filters if filterset is not None else ()), table.prefixed_order_by_field}
        return {name: values[-1] for name, values in self.request.GET.lists() if name in applied}
