"""Table columns shared by the back office's django-tables2 tables, and their base Table."""

import copy
import datetime
import functools
import inspect
import uuid
from collections import OrderedDict
from urllib.parse import quote

import django_tables2 as tables
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.formats import date_format
from django.utils.hashable import make_hashable
from django.utils.http import RFC3986_SUBDELIMS
from django_tables2.columns.linkcolumn import BaseLinkColumn
from django_tables2.data import TableQuerysetData
from django_tables2.utils import signature

from bnpl_admin.staff.html import format_html


# Keys reverse() leaves as they are, standing for a record's keys in a URL pattern: one of each
# kind per position (a text, a non-negative number, a UUID), as the path converters accept them.
def _stand_in(kind: str, position: int):
    if kind == "int":
        return 918_273_645_000 + position
    if kind == "uuid":
        return uuid.UUID(int=0x0F4C_0000_0000_4000_8000_0000_0000_0000 + position)
    return f"record-key-0f4c-{position}"


def _kind(key) -> str | None:
    """The kind of stand-in for a key, or None when reverse() must decide (it may refuse)."""
    if isinstance(key, str):
        return "str" if key and "/" not in key else None
    if isinstance(key, int) and not isinstance(key, bool):
        return "int" if key >= 0 else None
    if isinstance(key, uuid.UUID):
        return "uuid"
    return None


_SAFE = RFC3986_SUBDELIMS + "/~:@"  # what reverse() leaves unquoted


@functools.lru_cache(maxsize=256)
def _url_around_keys(viewname: str, kinds: tuple, script_prefix: str) -> tuple[str, ...] | None:
    """The URL's text around its keys (one more piece than keys), or None when stand-ins of these
    kinds do not make a URL (`<int:...>` given a text, say)."""
    stand_ins = [str(_stand_in(kind, position)) for position, kind in enumerate(kinds)]
    try:
        url = reverse(viewname, args=[_stand_in(kind, position) for position, kind in enumerate(kinds)])
    except NoReverseMatch:
        return None
    pieces = []
    for stand_in in stand_ins:
        before, found, url = url.partition(stand_in)
        if not found:
            return None
        pieces.append(before)
    return (*pieces, url)


def record_url(viewname: str, *keys) -> str:
    """`reverse(viewname, args=keys)`, with the URL's pattern reversed once per process for each
    kind of key: one `reverse()` per row was a tenth of a 25-row page's time, and the customer
    profile reversed a dozen links a request."""
    if len(keys) == 1:  # a table's record links: the fast path
        key = keys[0]
        kind = _kind(key)
        around = kind and _url_around_keys(viewname, (kind,), get_script_prefix())
        if around:
            return around[0] + quote(str(key), safe=_SAFE) + around[1]
        return reverse(viewname, args=[key])
    kinds = tuple([_kind(key) for key in keys])
    around = None if None in kinds else _url_around_keys(viewname, kinds, get_script_prefix())
    if around is None:  # reverse() decides (and may refuse)
        return reverse(viewname, args=list(keys))
    parts = [around[0]]
    for key, after in zip(keys, around[1:], strict=True):
        parts += (quote(str(key), safe=_SAFE), after)
    return "".join(parts)


def signature_once(function):
    """`django_tables2.utils.signature(function)`, computed once per method rather than once per
    table or per cell (the library calls `inspect.signature` for every cell it renders or exports)."""
    method = getattr(function, "__func__", None)
    if method is None or getattr(function, "__self__", None) is None:
        return signature(function)
    return _method_signature(method)


@functools.lru_cache(maxsize=256)
def _method_signature(method):
    args, catch_all = signature(method)
    return args[1:], catch_all  # without `self`, as for the bound method


def choices_display(model, accessor: str, record):
    """How django-tables2 shows a column of this model's records: `get_FOO_display()` for a field
    with choices, else None. Django's own `get_FOO_display` builds its choices dict on every call;
    the function returned builds it once (same lookup, same text)."""
    try:
        field = model._meta.get_field(accessor)
    except FieldDoesNotExist:
        return None
    if not (getattr(field, "choices", ()) and getattr(record, f"get_{accessor}_display", None)):
        return None
    method = inspect.getattr_static(model, f"get_{accessor}_display")
    if not (
        isinstance(method, functools.partialmethod)
        and method.func is models.Model._get_FIELD_display
        and method.keywords == {"field": field}
    ):  # the model's own get_FOO_display
        return lambda record: getattr(record, f"get_{accessor}_display")()
    choices, attname = dict(make_hashable(field.flatchoices)), field.attname

    def display(record):  # Model._get_FIELD_display, with `choices` made once
        value = getattr(record, attname)
        return force_str(choices.get(make_hashable(value), value), strings_only=True)

    return display


class CellLookup:
    """A column's value in a record, as django-tables2 looks it up for a cell (`BoundRow.
    _get_and_render_with`), with what the library works out per cell worked out once per column.

    Only a single-attribute accessor on a model record has this fast path (`applies_to`); anything
    else (related lookups, dicts, a link column's `text`) goes through the library's own lookup.
    """

    def __init__(self, bound_column):
        self.accessor = bound_column.accessor
        self.column = column = bound_column.column
        self.empty_values = column.empty_values
        self.many_to_many = isinstance(column, tables.ManyToManyColumn)
        self.simple = (
            "__" not in self.accessor
            and "." not in self.accessor
            and not isinstance(column, BaseLinkColumn)  # its `text` shows even when resolving fails
        )
        self.model = self.display = None

    def applies_to(self, record) -> bool:
        return self.simple and isinstance(record, models.Model)

    def value(self, record):
        """The value (a field with choices: its display text, as `get_FOO_display()` gives it)."""
        if type(record) is not self.model:  # once per model (a table's records are of one)
            self.model, self.display = type(record), choices_display(type(record), self.accessor, record)
        if self.display is not None:
            return self.display(record)
        try:
            value = getattr(record, self.accessor)
        except Exception:  # the library's lookup is quiet too
            return None
        if callable(value):  # the library calls it, unless it alters data
            value = self.accessor.resolve(record, quiet=True)
        return value

    def is_empty(self, value) -> bool:
        """Whether the library shows the column's default (a cell) or None (an export) instead."""
        return value in self.empty_values or (self.many_to_many and not value.exists())


# Most render and value methods take the value, or the value and the record (`CellFunction.takes`).
VALUE, VALUE_AND_RECORD = "value", "value and record"
_TAKES = {frozenset({"value"}): VALUE, frozenset({"value", "record"}): VALUE_AND_RECORD}


class CellFunction:
    """A cell's render (or export value) function, called as django-tables2's `call_with_appropriate`
    calls it: with those of value, record, column, bound_column, bound_row and table it takes (all
    of them if it takes `**kwargs`; not at all if it wants something else, which gives None).

    Its signature is inspected once, not per cell; the column's `render_for_table` (the same text,
    its per-call lookups made once per table) stands in for the column's own `render`, and `call`
    for `function` when given. A function of the value, or of the value and the record (`takes`), is
    called without building the other arguments; the table body and the exports, which call one for
    every cell, test `takes` themselves and call `function` directly, saving a call per cell.
    """

    def __init__(self, function, column, *, call=None):
        args, catch_all = signature_once(function)
        self.args = None if catch_all else frozenset(args)
        if call is None:
            per_table = getattr(column, "render_for_table", None)
            call = per_table() if per_table is not None and function == column.render else function
        self.function = call
        self.takes = _TAKES.get(self.args)

    def __call__(self, value, record, others, of):
        """The cell's content; `others(of)` gives the other arguments, asked for only when needed."""
        if self.takes is VALUE:
            return self.function(value=value)
        if self.takes is VALUE_AND_RECORD:
            return self.function(value=value, record=record)
        kwargs = {"value": value, "record": record, **others(of)}
        if self.args is None:
            return self.function(**kwargs)
        if self.args <= kwargs.keys():
            return self.function(**{key: kwargs[key] for key in self.args})
        return None  # as `call_with_appropriate`: a function wanting something else is not called


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
        return self._render(value, zone=timezone.get_current_timezone())

    def render_for_table(self):
        """`render` for the cells of one table: the current time zone looked up once, not per cell
        (`timezone.localtime` looks it up in a context-local on every call)."""
        return functools.partial(self._render, zone=timezone.get_current_timezone())

    def _render(self, value, *, zone):
        if isinstance(value, datetime.datetime) and timezone.is_aware(value):
            value = value.astimezone(zone)  # what timezone.localtime(value) does
        if self.format == "Y-m-d":  # the same text as date_format's, without its per-call lookups
            return (value.date() if isinstance(value, datetime.datetime) else value).isoformat()
        return date_format(value, self.format)


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


class Table(tables.Table):
    """django-tables2's Table, with the columns copied for each table as `_ColumnCopies` says, and
    its rows in a total order (`in_total_order`) whatever column they are sorted by."""

    # A unique field of the rows, the last sort key of every ordering (see `in_total_order`).
    tiebreaker = "pk"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.base_columns = _ColumnCopies(cls.base_columns)

    @property
    def order_by(self):
        return self._order_by

    @order_by.setter
    def order_by(self, value):
        # Only the names of columns: django-tables2 ignores any other sort key, but warns first when it
        # holds a "." (its old accessor syntax), and a `?sort=` is whatever the URL says.
        if isinstance(value, str):
            value = value.split(",")
        value = [key for key in value or () if not isinstance(key, str) or key.removeprefix("-") in self.columns]
        tables.Table.order_by.fset(self, value)
        if isinstance(self.data, TableQuerysetData):
            self.data.data = in_total_order(self.data.data, self.tiebreaker)
