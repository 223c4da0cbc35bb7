"""Querysets compiled to SQL once per process and run again with other values.

Django builds and compiles a queryset's SQL on every evaluation; for the few reads called on
nearly every API request that work cost several times the query itself (measured: 550 µs of
CPU for the debt status read, 150 µs prepared). A `PreparedQuery` builds its queryset once with
placeholder values, keeps the compiled SQL and its compiler, and on each call swaps the
placeholders' parameters for the real values and converts the rows as Django would.

Only for querysets whose SQL does not depend on the values (filters by equality, no `__in`
lists, no values that change the query's shape), returning `values_list` rows; `instances()`
turns rows of every column (`values_list(*every_column(Model))`), or of some columns including
the key (`values_list(*columns(Model, names))`, as `.only(*names)` loads them), into model
instances. The placeholders are text; a query on a number column passes `placeholders=` of its
own type.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections
from django.db.models import QuerySet

_PLACEHOLDER = "\u2063prepared-{}\u2063"  # text no caller passes (an invisible separator around it)
# Stands for a row id (`placeholders=(NUMBER,)`): within a 32-bit id column's range, as PostgreSQL needs.
NUMBER = -2_093_412_577


def every_column(model) -> list[str]:
    """The attribute names of a model's columns, for a `values_list` that `instances()` can turn into models."""
    return [field.attname for field in model._meta.concrete_fields]


def columns(model, names) -> list[str]:
    """Some of a model's columns in the order of its fields, as `instances()` needs them."""
    wanted = set(names)
    return [field.attname for field in model._meta.concrete_fields if field.attname in wanted]


class PreparedQuery:
    def __init__(
        self, build: Callable[..., QuerySet], *, values: int = 1, placeholders: tuple = (), using: str = "default"
    ):
        self.build, self.using = build, using
        self.placeholders = list(placeholders) or [_PLACEHOLDER.format(index) for index in range(values)]
        self.values = len(self.placeholders)
        self._local = threading.local()  # a compiler belongs to one thread's connection

    def _compiled(self):
        compiled = getattr(self._local, "compiled", None)
        if compiled is None:
            placeholders = self.placeholders
            queryset = self.build(*placeholders)
            query = queryset.query
            if not queryset._fields or list(queryset._fields) != list(query.values_select) or query.extra_select:
                raise ValueError("a prepared query must be a values_list of plain fields")
            compiler = query.get_compiler(using=self.using)
            sql, params = compiler.as_sql()
            slots = {}
            for position, param in enumerate(params):
                if param in placeholders:
                    slots[position] = placeholders.index(param)
            if sorted(set(slots.values())) != list(range(self.values)):
                raise ValueError("every placeholder must reach the SQL as a parameter of its own")
            compiled = self._local.compiled = (compiler, sql, list(params), slots)
            self.model, self.fields = query.model, list(queryset._fields)
            self.loads_models = (
                self.fields == columns(self.model, self.fields) and self.model._meta.pk.attname in self.fields
            )
        return compiled

    def rows(self, *values) -> list[tuple]:
        compiler, sql, params, slots = self._compiled()
        params = list(params)
        for position, index in slots.items():
            params[position] = values[index]
        with connections[self.using].cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        return [tuple(row) for row in compiler.results_iter(results=[fetched])]

    def instances(self, *values) -> list:
        """The rows as model instances, as the ORM loads them: the query selects `every_column`, or
        `columns()` with the primary key (the other fields deferred, as `.only()` leaves them)."""
        rows = self.rows(*values)
        if not self.loads_models:  # decided once, when the SQL was compiled
            raise ValueError("instances() needs a values_list of every column, or of columns() with the key")
        return [self.model.from_db(self.using, self.fields, row) for row in rows]

    def one(self, *values):
        """The one instance matching (on a unique key), or None."""
        found = self.instances(*values)
        return found[0] if found else None
