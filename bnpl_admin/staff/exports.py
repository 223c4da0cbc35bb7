"""CSV exports of the back office's tables, streamed from the database to the browser.

`?_export=csv` on a table page (django-tables2's trigger, kept) answers with every filtered,
sorted row as `Table.as_values()` gives them, written as CSV chunk by chunk while the rows are
read from a database cursor (`TotallyOrderedRows`), so memory stays flat however long the table.
An export past `EXPORT_MAX_ROWS` is refused before it starts, so that a file is never cut short:
the agent narrows the filter instead.
"""

import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.contrib import messages
from django.http import StreamingHttpResponse
from django.utils.http import urlencode
from django_tables2.data import TableQuerysetData

from bnpl_admin.audit import services as audit
from bnpl_admin.audit.services import Actor

CSV = "csv"
# Rows per chunk of CSV sent.
CHUNK_ROWS = 2_000


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
    """A cell of `as_values()`: text made `spreadsheet_safe`; numbers, dates and None as they are."""
    return spreadsheet_safe(value) if isinstance(value, str) else value


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


def _streamed(table, exclude_columns) -> Iterator[bytes]:
    """The table's `as_values()` as CSV chunks. When the response is closed early (the browser went
    away, and the WSGI server closes it), the rows' database cursor is closed at once, not when
    collected."""
    values = table.as_values(exclude_columns)
    try:
        yield from csv_chunks([_text(cell) for cell in row] for row in values)
    finally:
        values.close()


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
        response = StreamingHttpResponse(_streamed(table, self.exclude_columns), content_type="text/csv; charset=utf-8")
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
