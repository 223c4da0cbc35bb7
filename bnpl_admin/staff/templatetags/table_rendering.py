"""The body of a django-tables2 table, rendered in one pass in Python.

django-tables2 keeps the columns, their render_FOO methods, linkify, sorting, pagination and
export; this renders the same cells as its `table.html` loop (`row.items`, `column.attrs.td`,
`{{ cell }}`), but does once per column what the library does once per cell: inspecting the
render method's signature, looking up the model field for choices, building the `<td>`
attributes, and compiling a `TemplateColumn`'s template code (date columns are template columns).
On a 25-row page that loop was most of the request's time.
"""

import functools
import html

from django import template
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, Template
from django.template.base import render_value_in_context
from django.templatetags.l10n import localize, unlocalize
from django.utils.html import escape
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django_tables2.columns import TemplateColumn
from django_tables2.templatetags.django_tables2 import context_processor_error_msg
from django_tables2.utils import AttributeDict

from bnpl_admin.staff.columns import VALUE, VALUE_AND_RECORD, CellFunction, CellLookup
from bnpl_admin.staff.html import escaped, format_html

register = template.Library()


@functools.lru_cache(maxsize=64)
def _compiled(template_code: str) -> Template:
    return Template(template_code)


def attributes_html(attrs) -> SafeString:
    """`AttributeDict.as_html()` (or `{% render_attrs %}` of a mapping): the same text, without
    `format_html`'s machinery for every attribute (a twentieth of the exact-phone page)."""
    if not isinstance(attrs, AttributeDict):
        attrs = AttributeDict(attrs)
    return SafeString(" ".join(f'{escaped(key)}="{escaped(value)}"' for key, value in attrs._iteritems()))


@register.filter
def as_attributes(attrs) -> SafeString:
    """`{{ table.attrs.thead|as_attributes }}`: what `{{ table.attrs.thead.as_html }}` shows."""
    return attributes_html(attrs or {})


def _raw_attrs(table, column, kind: str) -> dict:
    """A column's attributes for its `kind` of cell ("td", "th") as declared, before the library
    computes them: the table's, then the column's, `cell` standing for both kinds."""
    attrs = {**table.attrs, **column.attrs}
    return attrs.get(kind, attrs.get("cell", {}))


def _has_callables(attrs) -> bool:
    return any(callable(value) or (isinstance(value, dict) and _has_callables(value)) for value in attrs.values())


class _ColumnRenderer:
    """Renders the `<td>` of one column for any record, as `BoundRow.get_cell` and the template would."""

    def __init__(self, table, bound_column):
        self.table = table
        self.bound_column = bound_column
        self.column = bound_column.column
        self.default = bound_column.default
        render = bound_column.render
        template_code = isinstance(self.column, TemplateColumn) and self.column.template_code
        self.render = CellFunction(
            render,
            self.column,
            call=self._render_template_code if template_code and render == self.column.render else None,
        )
        self.link = bound_column.link
        self.localize = bound_column.localize
        self.lookup = CellLookup(bound_column)
        self.static_td = None
        raw_td = _raw_attrs(table, self.column, "td")
        if not _has_callables(raw_td):
            # What `bound_column.attrs["td"]` gives, without the header's and footer's attributes
            # (the header's with its sort classes) that the library works out with it each time.
            td = AttributeDict(raw_td)
            td["class"] = bound_column.get_td_class(td)
            self.static_td = attributes_html(td)

    def td(self, row, context) -> str:
        record = row.record
        if self.lookup.applies_to(record):
            value = self.lookup.value(record)
            cell = self.default if self.lookup.is_empty(value) else self._render(row, value)
        else:
            render = lambda bound_column, value=None: self._render(row, value)  # noqa: E731
            cell = row._get_and_render_with(self.bound_column, render_func=render, default=self.default)
        attrs = self.static_td
        if attrs is None:
            self.bound_column.current_value, self.bound_column.current_record = cell, record
            attrs = attributes_html(self.bound_column.attrs["td"])
        # Both parts are already escaped (attrs by `as_html`, the cell by `_show`).
        return f"<td {attrs}>{self._show(cell, context)}</td>"

    def _render(self, row, value):
        render = self.render
        if not self.link:
            if render.takes is VALUE:
                return render.function(value=value)
            if render.takes is VALUE_AND_RECORD:
                return render.function(value=value, record=row.record)
            return render(value, row.record, self._others, row)
        others = self._others(row)  # once for both the content and the link
        content = render(value, row.record, lambda _row: others, row)
        return self.link(content, value=value, record=row.record, **others)

    def _others(self, row) -> dict:
        return {"column": self.column, "bound_column": self.bound_column, "bound_row": row, "table": self.table}

    def _render_template_code(self, record, table, value, bound_column, bound_row, **kwargs):
        """`TemplateColumn.render` for `template_code`, with the code compiled once instead of for every cell."""
        parent_context = getattr(table, "context", None)
        if parent_context is None:
            parent_context = Context()
        context = self.column.get_context_data(
            record=record, table=table, value=value, bound_column=bound_column, bound_row=bound_row
        )
        with parent_context.update(context):
            parent_context["request"] = getattr(table, "request", None)
            return _compiled(self.column.template_code).render(parent_context)

    def _show(self, cell, context) -> str:
        """The cell as `{{ cell }}` (or `{{ cell|localize }}`, `{{ cell|unlocalize }}`) shows it."""
        if self.localize is None and context.autoescape and type(cell) in (str, SafeString):
            return cell if type(cell) is SafeString else html.escape(cell)  # as the template escapes text
        if self.localize is None and type(cell) is int and not settings.USE_THOUSAND_SEPARATOR:
            return str(cell)  # what localize() makes of a whole number without grouping
        if self.localize is not None:
            cell = localize(cell) if self.localize else unlocalize(cell)
        return render_value_in_context(cell, context)


def _row_attributes(table):
    """`row.attrs.as_html()`, built twice per table (even, odd) when no row attribute is computed per record."""
    if _has_callables(table.row_attrs or {}):
        return lambda row: attributes_html(row.attrs)
    built = {}

    def attributes(row):
        css = row.get_even_odd_css_class()
        if css not in built:
            built[css] = attributes_html(row.attrs)
        return built[css]

    return attributes


@register.simple_tag(takes_context=True)
def table_body(context, table):
    """`<tr>` rows of the table's current page (or its empty text), as django-tables2's template renders them."""
    columns = [_ColumnRenderer(table, bound_column) for bound_column in table.columns]
    row_attrs = _row_attributes(table)
    rows = [
        f"<tr {row_attrs(row)}>{''.join(column.td(row, context) for column in columns)}</tr>"
        for row in table.paginated_rows
    ]
    if not rows and table.empty_text:
        return format_html('<tr><td colspan="{}">{}</td></tr>', len(columns), table.empty_text)
    return SafeString("\n".join(rows))  # every part was escaped where it was made


@register.simple_tag(takes_context=True)
def table_header_cells(context, table):
    """The header's `<th>` cells, as this loop renders them, with the page's query read once per table:

        {% for column in table.columns %}
        <th {{ column.attrs.th|as_attributes }}>{% if column.orderable %}<a href="{% querystring_replace
        table.prefixed_order_by_field=column.order_by_alias.next %}">{{ column.header }}</a>{% else %}
        {{ column.header }}{% endif %}</th>
        {% endfor %}

    (`querystring_replace` copies the request's whole query for every sortable column.)
    """
    if "request" not in context:  # as querystring_replace says it
        raise ImproperlyConfigured(context_processor_error_msg % "table_header_cells")
    params = dict(context["request"].GET)
    field = table.prefixed_order_by_field
    cells = []
    for column in table.columns:
        header = render_value_in_context(column.header, context)
        if column.orderable:
            query = {**params, field: column.order_by_alias.next} if field not in ("", None) else params
            header = f'<a href="{escape("?" + urlencode(query, doseq=True))}">{header}</a>'
        cells.append(f"<th {_th_attributes(table, column)}>{header}</th>")
    return SafeString("\n".join(cells))


def _th_attributes(table, bound_column) -> str:
    """`column.attrs['th']` as HTML: without working out the cell's and footer's attributes too,
    as the library does each time, when no attribute is computed (else the library's own)."""
    raw_th = _raw_attrs(table, bound_column.column, "th")
    if _has_callables(raw_th):
        return attributes_html(bound_column.attrs["th"])
    th = AttributeDict(raw_th)
    th["class"] = bound_column.get_th_class(th)
    return attributes_html(th)
