"""Page-number pagination that stays cheap at a million rows, with the same body as DRF's.

Two costs grow with the table under DRF's `PageNumberPagination`: the `COUNT(*)` behind `count`
(a full scan on every request) and `OFFSET` on deep pages (PostgreSQL reads and throws away every
row before the page). The contract keeps `count` and `?page=N`, so instead:

- a large count is remembered per process for `COUNT_TTL` seconds (small tables are counted
  exactly every time: the scan is cheap there, and tests and fresh installs see exact numbers);
- deep pages first find the page's primary keys (an index-only scan, no table rows touched) and
  then load just those rows: a "deferred join".

A client walking the whole list should use keyset pages instead: `?after=<key of the last row
seen>` starts the page just after that row (an index range scan: every page as cheap as the
first, and rows inserted meanwhile neither skipped nor repeated), and `next` then carries on the
same way (`previous` is null).

`?page_size=` is one whole number of at least 1 (more than `max_page_size` gives `max_page_size`
rows); anything else is refused with a 400, as a malformed `?after=` is, rather than ignored and
carried into `next`. `?page=` is one whole number too, or the page does not exist (404).

A view may also read those pages itself: `rows_after(after, size)` returning the first `size`
rows of its queryset (after=None) or the first `size` after the key `after`, as the queryset
would (the users list reads them by prepared SQL).
"""

from __future__ import annotations

import functools
import re
import time

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

# Counts below this are taken live: exact, and cheap enough.
EXACT_COUNT_BELOW = 50_000
COUNT_TTL = 30.0  # seconds a large count may lag behind inserts
# From this offset on, pages are fetched by primary key first.
DEFERRED_JOIN_FROM = 1_000

_counts: dict[str, tuple[int, float]] = {}


def _count_key(queryset) -> str:
    """What a count is remembered under: its SQL, or only the table when nothing narrows the rows
    (compiling the SQL just to name the count cost more than running the page's own query)."""
    query = queryset.query
    narrowed = query.where or query.distinct or query.combinator or query.group_by or query.extra
    if not narrowed and not query.extra_tables and not query.is_sliced:
        return f"every row of {queryset.model._meta.db_table}"
    return str(query)


class LargeTablePaginator(Paginator):
    def __init__(self, object_list, per_page, *args, first_rows=None, **kwargs):
        super().__init__(object_list, per_page, *args, **kwargs)
        self.first_rows = first_rows  # size -> the first `size` rows of object_list, or None

    @cached_property
    def count(self) -> int:
        try:
            key = _count_key(self.object_list)
        except EmptyResultSet:  # a queryset that can match nothing: nothing to count or remember
            return 0
        remembered = _counts.get(key)
        now = time.monotonic()
        if remembered and now - remembered[1] < COUNT_TTL:
            return remembered[0]
        count = super().count
        if count >= EXACT_COUNT_BELOW:
            _counts[key] = (count, now)
        else:
            _counts.pop(key, None)
        return count

    def page(self, number):
        """The page's rows, read live: a remembered count may lag behind inserts, so the rows are
        not cut off where that count says the last page ends (no orphans here)."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if bottom == 0 and self.first_rows is not None:
            return self._get_page(self.first_rows(self.per_page), number, self)
        if bottom < DEFERRED_JOIN_FROM:
            return self._get_page(self.object_list[bottom:top], number, self)
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in self.object_list.filter(pk__in=ids)}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)


class LargeTablePagination(PageNumberPagination):
    """DRF's page-number pagination (same query parameters and body) over `LargeTablePaginator`,
    plus keyset pages with `?after=` on `keyset_field` (the queryset must be ordered by it)."""

    django_paginator_class = LargeTablePaginator
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    after_query_param = "after"
    keyset_field = "customer_id"
    keyset_value = re.compile(r"^[A-Za-z0-9_.\-]{0,64}$")  # empty: from the first row
    whole_number = re.compile(r"[0-9]+")

    def get_page_number(self, request, paginator):
        """One whole number, or none (the first page); anything else is no page: 404, as DRF
        answers "abc" or "0" (it took "", "last" and the last of repeated values for pages)."""
        values = request.query_params.getlist(self.page_query_param)
        if not values:
            return 1
        if len(values) > 1 or not self.whole_number.fullmatch(values[0]):
            raise NotFound(self.invalid_page_message)
        return values[0]

    def get_page_size(self, request):
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        digits = values[0].lstrip("0")
        if len(values) > 1 or not self.whole_number.fullmatch(values[0]) or not digits:
            most = self.max_page_size
            message = f"A whole number of at least 1, given once (more than {most} gives {most} rows)."
            raise ValidationError({self.page_size_query_param: [message]})
        if len(digits) > len(str(self.max_page_size)):  # no int() of thousands of digits (Python refuses them)
            return self.max_page_size
        return min(int(digits), self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        starts = request.query_params.getlist(self.after_query_param)
        after = starts[0] if starts else None
        rows_after = getattr(view, "rows_after", None)
        if after is None:
            self.keyset = False
            if rows_after is not None:
                first_rows = functools.partial(rows_after, None)
                self.django_paginator_class = functools.partial(LargeTablePaginator, first_rows=first_rows)
            return super().paginate_queryset(queryset, request, view)
        if len(starts) > 1 or not self.keyset_value.match(after):
            raise ValidationError({self.after_query_param: ["Not a valid key to start after."]})
        self.get_page_number(request, None)  # not used here, but no more taken in any form than elsewhere
        self.keyset, self.request = True, request
        size = self.get_page_size(request)
        if rows_after is not None:
            rows = rows_after(after, size + 1)
        else:
            rows = list(queryset.filter(**{f"{self.keyset_field}__gt": after})[: size + 1])
        self.has_more, rows = len(rows) > size, rows[:size]
        self.total = LargeTablePaginator(queryset, size).count
        self.last_key = getattr(rows[-1], self.keyset_field) if rows else None
        return rows

    def get_paginated_response(self, data):
        if not self.keyset:
            return super().get_paginated_response(data)
        next_url = None
        if self.has_more:
            url = remove_query_param(self.request.build_absolute_uri(), self.page_query_param)
            next_url = replace_query_param(url, self.after_query_param, self.last_key)
        return Response({"count": self.total, "next": next_url, "previous": None, "results": data})

    def get_schema_operation_parameters(self, view):
        page, page_size = super().get_schema_operation_parameters(view)
        page["schema"] = {"type": "integer", "minimum": 1}
        page_size["schema"] = {"type": "integer", "minimum": 1}
        page_size["description"] = (
            f"Rows per page (default {self.page_size}); more than {self.max_page_size} gives {self.max_page_size}."
        )
        return [
            page,
            page_size,
            {
                "name": self.after_query_param,
                "required": False,
                "in": "query",
                "description": "Keyset paging: the page starts after this user_id (empty: the first); follow `next`.",
                "schema": {"type": "string", "pattern": self.keyset_value.pattern},
            },
        ]
